"""ComfyUI's `comfy.clip_vision`: load (Loom's CLIP_VISION value, nodes/clip_vision_nodes.py), the output
class and clip_preprocess."""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_compat import state
from engine.models.clip_vision import CLIP_MEAN, CLIP_STD
from engine.models.clip_vision import ClipVisionOutput as Output
from engine.models.clip_vision import clip_preprocess as engine_clip_preprocess
from nodes.clip_vision_nodes import ClipVisionModel, clip_vision_model

__all__ = ["ClipVisionModel", "Output", "clip_preprocess", "load"]


def load(ckpt_path: str) -> ClipVisionModel:
    """The CLIP_VISION value of the image encoder in a clip_vision or checkpoint file."""
    return clip_vision_model(state.model_manager(), Path(ckpt_path))


def clip_preprocess(image: torch.Tensor, size: int = 224, mean: tuple = CLIP_MEAN, std: tuple = CLIP_STD,
                    crop: bool = True) -> torch.Tensor:
    """IMAGE [B,H,W,C] in [0, 1] -> normalised [B,3,size,size]: the preprocessing Loom's image encoder runs."""
    return engine_clip_preprocess(image, size, crop, mean, std)
