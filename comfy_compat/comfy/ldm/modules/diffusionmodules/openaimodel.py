"""ComfyUI's `comfy.ldm.modules.diffusionmodules.openaimodel`: the SD UNet and its blocks, which are
Loom's engine.models.unet / blocks classes (packs test and patch them by these names)."""

from __future__ import annotations

from typing import Any

from engine.models.blocks import Downsample, ResBlock, TimestepBlock, Upsample
from engine.models.blocks import TimestepSequential as TimestepEmbedSequential
from engine.models.transformer import SpatialTransformer
from engine.models.unet import UNetModel
from engine.models.video_unet import SpatialVideoTransformer, VideoResBlock

__all__ = ["Downsample", "ResBlock", "SpatialTransformer", "SpatialVideoTransformer", "TimestepBlock",
           "TimestepEmbedSequential", "UNetModel", "Upsample", "VideoResBlock", "forward_timestep_embed"]


def forward_timestep_embed(ts: Any, x: Any, emb: Any, context: Any = None, transformer_options: dict | None = None,
                           output_shape: Any = None, time_context: Any = None, num_video_frames: Any = None,
                           image_only_indicator: Any = None) -> Any:
    """Run a block sequence the way the UNet does (each layer gets the inputs it takes)."""
    return TimestepEmbedSequential.forward(ts, x, emb, context, transformer_options or {}, output_shape)
