"""The diffusers <-> LDM UNet parameter-name tables ComfyUI keeps in comfy.utils (UNET_MAP_RESNET,
UNET_MAP_ATTENTIONS, TRANSFORMER_BLOCKS, UNET_MAP_BASIC), built from Loom's engine.models.diffusers_names."""

from __future__ import annotations

from typing import Any

from engine.models.diffusers_names import _OUT, _TOP_LEVEL, RESNET_PARTS

_PARAMS = ("weight", "bias")

# LDM ResBlock parameter -> diffusers resnet parameter.
UNET_MAP_RESNET = {f"{ldm}.{p}": f"{diffusers}.{p}" for diffusers, ldm in RESNET_PARTS.items() for p in _PARAMS}
# Parameters of a spatial-transformer container (the same names in both layouts).
UNET_MAP_ATTENTIONS = {f"{part}.{p}" for part in ("proj_in", "proj_out", "norm") for p in _PARAMS}
# Parameters of one transformer block (the same names in both layouts).
TRANSFORMER_BLOCKS = {f"{part}.{p}" for part in ("norm1", "norm2", "norm3", "ff.net.0.proj", "ff.net.2",
                                                  "attn1.to_out.0", "attn2.to_out.0") for p in _PARAMS}
TRANSFORMER_BLOCKS |= {f"{attn}.{proj}.weight" for attn in ("attn1", "attn2") for proj in ("to_q", "to_k", "to_v")}
# (LDM name, diffusers name) of the parameters outside the blocks.
UNET_MAP_BASIC = {(f"{ldm}.{p}", f"{diffusers}.{p}") for diffusers, ldm in {**_TOP_LEVEL, **_OUT}.items()
                  for p in _PARAMS}


def unet_to_diffusers(unet_config: dict) -> Any:
    """ComfyUI's whole-UNet name map from a unet_config dict; Loom maps names per module instead."""
    raise NotImplementedError("comfy.utils.unet_to_diffusers: Loom maps diffusers names with "
                              "engine.models.diffusers_names.block_map(UNetConfig)")
