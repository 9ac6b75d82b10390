"""diffusers' AutoencoderKL layout (`encoder.down_blocks.0.resnets.0.conv1`) in the single-file LDM layout
Loom's AutoencoderKL uses (`encoder.down.0.block.0.conv1`); the mid-block attention's linear q/k/v/out
become 1x1 convolutions."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

_RESNET = {"conv_shortcut": "nin_shortcut"}
_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out",
              "query": "q", "key": "k", "value": "v", "proj_attn": "proj_out"}
_TOP = {"conv_norm_out": "norm_out"}


def _block_path(side: str, rest: str, levels: int) -> str | None:
    if m := re.match(r"(down|up)_blocks\.(\d+)\.resnets\.(\d+)\.(\w+)\.(\w+)$", rest):
        kind, level, block, part, leaf = m.groups()
        level = int(level) if kind == "down" else levels - 1 - int(level)
        return f"{side}.{kind}.{level}.block.{block}.{_RESNET.get(part, part)}.{leaf}"
    if m := re.match(r"(down|up)_blocks\.(\d+)\.(down|up)samplers\.0\.conv\.(\w+)$", rest):
        kind, level, sampler, leaf = m.groups()
        level = int(level) if kind == "down" else levels - 1 - int(level)
        return f"{side}.{kind}.{level}.{sampler}sample.conv.{leaf}"
    if m := re.match(r"mid_block\.resnets\.(\d+)\.(\w+)\.(\w+)$", rest):
        block, part, leaf = m.groups()
        return f"{side}.mid.block_{int(block) + 1}.{_RESNET.get(part, part)}.{leaf}"
    if m := re.match(r"mid_block\.attentions\.0\.(.+)\.(\w+)$", rest):
        part, leaf = m.groups()
        return f"{side}.mid.attn_1.{_ATTENTION[part]}.{leaf}" if part in _ATTENTION else None
    if m := re.match(r"(conv_in|conv_out|conv_norm_out)\.(\w+)$", rest):
        return f"{side}.{_TOP.get(m[1], m[1])}.{m[2]}"
    return None


def diffusers_vae_to_ldm(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers AutoencoderKL state dict under LDM names (raises KeyError naming an unmapped key)."""
    levels = {side: 1 + max(int(k.split(".")[2]) for k in sd if k.startswith(f"{side}.{kind}_blocks."))
              for side, kind in (("encoder", "down"), ("decoder", "up"))}
    out = {}
    for key, value in sd.items():
        side, _, rest = key.partition(".")
        if side in ("quant_conv", "post_quant_conv"):
            out[key] = value
            continue
        name = _block_path(side, rest, levels.get(side, 0)) if side in levels else None
        if name is None:
            raise KeyError(f"diffusers VAE key {key!r} has no single-file equivalent")
        if ".mid.attn_1." in name and name.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]
        out[name] = value
    return out
