"""Key maps between OpenCLIP's checkpoint layout and transformers' CLIP layout, both ways.

OpenCLIP towers (SD2 ViT-H text, SDXL bigG text, SVD ViT-H visual) store fused q/k/v (`in_proj_*`),
`resblocks`, and projections as bare [in, out] matrices; transformers wants separate q/k/v Linear
layers and [out, in] projection weights. The HF side here uses the names real files use
(`text_model.…`, `vision_model.…`), which the loaders then align to the installed transformers.
"""

from __future__ import annotations

import re

import torch

TEXT_HF = "text_model."
VISION_HF = "vision_model."
_BLOCK_RE = re.compile(r"^transformer\.resblocks\.(\d+)\.(.+)$")
_HF_LAYER_RE = re.compile(r"^(?:text|vision)_model\.encoder\.layers\.(\d+)\.(.+)$")
_QKV = ("q_proj", "k_proj", "v_proj")
# per-block module renames (open_clip -> transformers), applied to `.weight` / `.bias`
_BLOCK = {
    "ln_1": "layer_norm1",
    "ln_2": "layer_norm2",
    "attn.out_proj": "self_attn.out_proj",
    "mlp.c_fc": "mlp.fc1",
    "mlp.c_proj": "mlp.fc2",
}
_TEXT_TOP = {
    "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
    "positional_embedding": "text_model.embeddings.position_embedding.weight",
    "ln_final.weight": "text_model.final_layer_norm.weight",
    "ln_final.bias": "text_model.final_layer_norm.bias",
}
_VISION_TOP = {
    "class_embedding": "vision_model.embeddings.class_embedding",
    "positional_embedding": "vision_model.embeddings.position_embedding.weight",
    "conv1.weight": "vision_model.embeddings.patch_embedding.weight",
    "ln_pre.weight": "vision_model.pre_layrnorm.weight",
    "ln_pre.bias": "vision_model.pre_layrnorm.bias",
    "ln_post.weight": "vision_model.post_layernorm.weight",
    "ln_post.bias": "vision_model.post_layernorm.bias",
}
# stored as x @ W ([in, out]) by open_clip, as a bias-free Linear ([out, in]) by transformers
_TEXT_TRANSPOSED = {"text_projection": "text_projection.weight"}
_VISION_TRANSPOSED = {"proj": "visual_projection.weight"}
# present in real files, not parameters of the transformers models: skipped on load
IGNORED_OPEN_CLIP = frozenset({"logit_scale"})
POSITION_IDS = "embeddings.position_ids"


class KeyMapError(ValueError):
    """A state dict holds keys the converter does not recognise."""


def _block_to_hf(root: str, index: str, rest: str, value: torch.Tensor, out: dict) -> bool:
    layer = f"{root}encoder.layers.{index}."
    if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
        kind = rest.rsplit("_", 1)[1]
        for name, part in zip(_QKV, value.chunk(3, dim=0)):
            out[f"{layer}self_attn.{name}.{kind}"] = part
        return True
    module, _, kind = rest.rpartition(".")
    if module not in _BLOCK:
        return False
    out[f"{layer}{_BLOCK[module]}.{kind}"] = value
    return True


def _to_hf(sd: dict[str, torch.Tensor], root: str, top: dict, transposed: dict) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in sd.items():
        block = _BLOCK_RE.match(key)
        if key in top:
            out[top[key]] = value
        elif key in transposed:
            out[transposed[key]] = value.t()
        elif block and _block_to_hf(root, block[1], block[2], value, out):
            continue
        elif key not in IGNORED_OPEN_CLIP:
            unknown.append(key)
    if unknown:
        raise KeyMapError(f"unrecognised OpenCLIP keys: {sorted(unknown)[:5]} ({len(unknown)} in all)")
    return out


def _from_hf(sd: dict[str, torch.Tensor], top: dict, transposed: dict) -> dict[str, torch.Tensor]:
    renamed = {v: k for k, v in top.items()} | {v: k for k, v in transposed.items()}
    reverse_block = {v: k for k, v in _BLOCK.items()}
    out: dict[str, torch.Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, torch.Tensor]] = {}
    unknown = []
    for key, value in sd.items():
        layer = _HF_LAYER_RE.match(key)
        if key in renamed:
            out[renamed[key]] = value.t() if key in transposed.values() else value
        elif key.endswith(POSITION_IDS):
            continue
        elif layer:
            module, _, kind = layer[2].rpartition(".")
            name = module.removeprefix("self_attn.")
            if name in _QKV:
                qkv.setdefault((layer[1], kind), {})[name] = value
            elif module in reverse_block:
                out[f"transformer.resblocks.{layer[1]}.{reverse_block[module]}.{kind}"] = value
            else:
                unknown.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise KeyMapError(
            f"unrecognised transformers CLIP keys: {sorted(unknown)[:5]} ({len(unknown)} in all)"
        )
    for (index, kind), parts in qkv.items():
        out[f"transformer.resblocks.{index}.attn.in_proj_{kind}"] = torch.cat([parts[n] for n in _QKV])
    return out


def open_clip_text_to_hf(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP text tower keys (prefix stripped) -> `text_model.…` + `text_projection.weight`."""
    return _to_hf(sd, TEXT_HF, _TEXT_TOP, _TEXT_TRANSPOSED)


def hf_text_to_open_clip(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `open_clip_text_to_hf` (without `logit_scale`, which the model does not hold)."""
    return _from_hf(sd, _TEXT_TOP, _TEXT_TRANSPOSED)


def open_clip_visual_to_hf(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenCLIP visual tower keys (`visual.` stripped) -> `vision_model.…` + `visual_projection.weight`."""
    return _to_hf(sd, VISION_HF, _VISION_TOP, _VISION_TRANSPOSED)


def hf_visual_to_open_clip(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of `open_clip_visual_to_hf`."""
    return _from_hf(sd, _VISION_TOP, _VISION_TRANSPOSED)


def is_open_clip_layout(keys) -> bool:
    """Whether a tower's keys (prefix stripped) use OpenCLIP's `transformer.resblocks` naming."""
    return any(_BLOCK_RE.match(k) for k in keys)
