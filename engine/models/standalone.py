"""Model parts shipped as files of their own: a UNet alone (LDM layout, bare or prefixed, or diffusers'
UNet2DConditionModel layout) and text encoders alone (transformers or OpenCLIP layout). Recognises which
family each belongs to, so UNETLoader / CLIPLoader / DualCLIPLoader build the same models a full
checkpoint of that family gives.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from engine.models.clip_keys import hf_text_to_open_clip
from engine.models.controlnet import RenamedView, tensor_shapes
from engine.models.detect import (
    SCALING_FACTORS,
    UNET_PREFIX,
    CheckpointConfig,
    UnsupportedCheckpoint,
    infer_unet_config,
    prediction_of,
)
from engine.models.diffusers_names import block_map, diffusers_to_ldm
from engine.models.text_encoders import to_hf_text_layout
from engine.models.unet import UNetConfig
from engine.models.vae import VAEConfig

DIFFUSERS_UNET_MARK = "down_blocks.0.resnets.0.conv1.weight"
SIZE_EMBED_WIDTH = 256  # SDXL's label vector: pooled text then 256 dims per size/crop/score number


def _depth(shapes: Mapping[str, tuple], block: str) -> int:
    return len({k[len(block):].split(".")[1] for k in shapes if k.startswith(block + ".transformer_blocks.")})


def _diffusers_layout(shapes: Mapping[str, tuple]) -> UNetConfig:
    """Block layout (levels, blocks per level, attention depths) read from diffusers names; enough for
    `block_map`, the sizes are inferred afterwards from the LDM names."""
    levels = 1 + max(int(k.split(".")[1]) for k in shapes if k.startswith("down_blocks."))
    counts = [len({k.split(".")[3] for k in shapes if k.startswith(f"down_blocks.{lv}.resnets.")})
              for lv in range(levels)]
    return UNetConfig(
        in_channels=4, out_channels=4, model_channels=1, channel_mult=(1,) * levels, num_res_blocks=tuple(counts),
        transformer_depth=tuple(_depth(shapes, f"down_blocks.{lv}.attentions.{j}")
                                for lv in range(levels) for j in range(counts[lv])),
        transformer_depth_middle=_depth(shapes, "mid_block.attentions.0"),
        transformer_depth_output=tuple(_depth(shapes, f"up_blocks.{up}.attentions.{j}")
                                       for up in range(levels) for j in range(counts[levels - 1 - up] + 1)),
        context_dim=None, num_heads=1)


def unet_weights(source: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """A UNet file's tensors under bare LDM names (`input_blocks.0.0.weight`), lazy where `source` is."""
    shapes = tensor_shapes(source)
    if "input_blocks.0.0.weight" in shapes:
        return source
    if UNET_PREFIX + "input_blocks.0.0.weight" in shapes:
        return RenamedView(source, {k[len(UNET_PREFIX):]: k for k in shapes if k.startswith(UNET_PREFIX)})
    if DIFFUSERS_UNET_MARK in shapes:
        blocks = block_map(_diffusers_layout(shapes))
        names = {diffusers_to_ldm(k, blocks): k for k in shapes}
        if None in names:
            raise UnsupportedCheckpoint(f"diffusers UNet keys with no LDM equivalent: {names[None]}")
        return RenamedView(source, names)
    raise UnsupportedCheckpoint("not a UNet: none of input_blocks.0.0.weight, "
                                f"{UNET_PREFIX}input_blocks.0.0.weight or {DIFFUSERS_UNET_MARK} is present")


def unet_family(unet: UNetConfig) -> str:
    """SD1 (1x1-conv proj_in), SD2 (linear proj_in), SDXL base or refiner (label embedding: the refiner's
    pooled text is as wide as its context, the base's context adds CLIP-L to it)."""
    if unet.adm_in_channels:
        pooled_if_refiner = unet.adm_in_channels - 5 * SIZE_EMBED_WIDTH
        return "sdxl_refiner" if pooled_if_refiner == unet.context_dim else "sdxl"
    return "sd2" if unet.use_linear_in_transformer else "sd1"


def unet_file_config(weights: Mapping[str, torch.Tensor], metadata: Mapping[str, str]) -> CheckpointConfig:
    """The config of a standalone UNet (bare LDM names, see `unet_weights`); no VAE or text encoders."""
    unet = infer_unet_config(tensor_shapes(weights))
    if any(".time_stack." in k for k in tensor_shapes(weights)):
        raise UnsupportedCheckpoint("a video (SVD) UNet: load its full checkpoint with ImageOnlyCheckpointLoader")
    family = unet_family(unet)
    prefixed = RenamedView(weights, {UNET_PREFIX + k: k for k in tensor_shapes(weights)})
    prediction, source = prediction_of(family, tensor_shapes(prefixed), unet, metadata, prefixed)
    return CheckpointConfig(family=family, unet=unet, vae=VAEConfig(embed_dim=unet.in_channels),
                            text_encoders=(), prediction_type=prediction, prediction_source=source,
                            scaling_factor=SCALING_FACTORS[family], unet_prefix="")


def text_tower_kind(layers: int) -> str:
    """CLIP-L, OpenCLIP-H or bigG by depth, as ComfyUI tells them apart (31+ layers bigG, 23+ H)."""
    return "g" if layers >= 31 else "h" if layers >= 23 else "l"


def hf_tower(tower: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A text-encoder file's tensors (either layout; a full CLIP's vision half and logit scale dropped) in
    the transformers layout (`text_model.…`)."""
    skipped = ("vision_model.", "visual_projection.", "logit_scale")
    hf, _ = to_hf_text_layout({k: v for k, v in tower.items() if not k.startswith(skipped)})
    return hf


def tower_in_layout(hf: Mapping[str, torch.Tensor], open_clip_layout: bool, prefix: str) -> dict[str, torch.Tensor]:
    """A transformers-layout tower as a checkpoint holds it under `prefix` (OpenCLIP layout for H and bigG),
    each tensor contiguous as if read from a file, so it loads exactly like a checkpoint's tower."""
    tensors = hf_text_to_open_clip(dict(hf)) if open_clip_layout else hf
    return {prefix + k: v.contiguous() for k, v in tensors.items()}
