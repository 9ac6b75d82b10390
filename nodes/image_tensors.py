"""Conversions between IMAGE tensors and Pillow images, and the resizing every image node shares.

IMAGE is float32 [B,H,W,C] in 0..1 and MASK float32 [B,H,W] (the convention node packs rely on).
No nodes live here.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import torch
from PIL import Image

from engine.image_resize import center_crop_to_aspect, interpolate

UpscaleMethod = Literal["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
CropMethod = Literal["disabled", "center"]
UPSCALE_METHODS: tuple[str, ...] = get_args(UpscaleMethod)


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """One RGB Pillow image -> IMAGE [1,H,W,3]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(array.copy())[None]


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """0..1 floats -> 8-bit the way ComfyUI writes files: clip(255 x) then truncate (0.999/255 -> 0), so the
    same workflow gives byte-identical PNGs."""
    return np.clip(255.0 * image.detach().cpu().float().numpy(), 0, 255).astype(np.uint8)


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """One [H,W,C] image (C = 1, 3 or 4) in 0..1 -> Pillow image (8 bits, truncated like ComfyUI)."""
    array = to_uint8(image)
    if array.shape[-1] == 1:
        array = array[..., 0]
    return Image.fromarray(array)


def resize_channels_first(samples: torch.Tensor, width: int, height: int, method: str,
                          crop: str = "disabled") -> torch.Tensor:
    """Resize [B,C,H,W] to width x height with one of UPSCALE_METHODS (optionally centre-cropping first)."""
    if method not in UPSCALE_METHODS:
        raise ValueError(f"upscale_method must be one of {', '.join(UPSCALE_METHODS)}, got {method!r}")
    if crop == "center":
        samples = center_crop_to_aspect(samples, width, height)
    if method == "lanczos":
        frames = []
        for frame in samples.movedim(1, -1):
            pil = tensor_to_pil(frame).resize((width, height), Image.Resampling.LANCZOS)
            array = np.asarray(pil, dtype=np.float32) / 255.0
            frames.append(torch.from_numpy(array.copy()).reshape(height, width, -1))
        return torch.stack(frames).movedim(-1, 1).to(samples.device, samples.dtype)
    return interpolate(samples, width, height, method)


def resize_image(image: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled") -> torch.Tensor:
    """Resize an IMAGE [B,H,W,C] to width x height."""
    return resize_channels_first(image.movedim(-1, 1), width, height, method, crop).movedim(1, -1)


def target_size(width: int, height: int, source_w: int, source_h: int) -> tuple[int, int]:
    """A 0 width or height keeps the source aspect ratio; both 0 keep the source size."""
    if width == 0 and height == 0:
        return source_w, source_h
    if width == 0:
        width = max(1, round(source_w * height / source_h))
    if height == 0:
        height = max(1, round(source_h * width / source_w))
    return width, height
