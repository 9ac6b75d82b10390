"""ComfyUI's `comfy.clip_vision`: load (Loom's CLIP_VISION value, nodes/clip_vision_nodes.py), the output
class and clip_preprocess."""

from __future__ import annotations

from pathlib import Path

import torch

from comfy_compat import state
from engine.models.clip_vision import ClipVisionOutput as Output
from nodes.clip_vision_nodes import ClipVisionModel, clip_vision_model

__all__ = ["ClipVisionModel", "Output", "clip_preprocess", "load"]

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def load(ckpt_path: str) -> ClipVisionModel:
    """The CLIP_VISION value of the image encoder in a clip_vision or checkpoint file."""
    return clip_vision_model(state.model_manager(), Path(ckpt_path))


def clip_preprocess(image: torch.Tensor, size: int = 224, mean: tuple = CLIP_MEAN, std: tuple = CLIP_STD,
                    crop: bool = True) -> torch.Tensor:
    """IMAGE [B,H,W,C] in [0, 1] -> normalised [B,3,size,size] (shorter side scaled to size, centre crop)."""
    pixels = image.movedim(-1, 1)[:, :3].float()
    height, width = pixels.shape[-2:]
    if crop:
        scale = size / min(height, width)
        new_size = (round(height * scale), round(width * scale))
    else:
        new_size = (size, size)
    pixels = torch.nn.functional.interpolate(pixels, size=new_size, mode="bicubic", antialias=True)
    top, left = (pixels.shape[-2] - size) // 2, (pixels.shape[-1] - size) // 2
    pixels = pixels[..., top:top + size, left:left + size].clamp(0, 1)
    mean_t = torch.tensor(mean, device=pixels.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=pixels.device).view(1, 3, 1, 1)
    return (pixels - mean_t) / std_t
