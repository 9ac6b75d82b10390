"""Resizing channels-first tensors the way every image-sized input is fitted (ControlNet hints, latents,
images): torch interpolation modes, with an optional centre crop to the target's aspect ratio first.

Image nodes add Pillow's lanczos on top (nodes.image_tensors); the engine needs only the torch modes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TORCH_METHODS: tuple[str, ...] = ("nearest-exact", "bilinear", "area", "bicubic")


def center_crop_to_aspect(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Crop [B,C,H,W] around its centre to the aspect ratio of width x height."""
    h, w = samples.shape[-2:]
    source, target = w / h, width / height
    if source > target:
        new_w = round(h * target)
        x = (w - new_w) // 2
        return samples[..., :, x:x + new_w]
    if source < target:
        new_h = round(w / target)
        y = (h - new_h) // 2
        return samples[..., y:y + new_h, :]
    return samples


def interpolate(samples: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled") -> torch.Tensor:
    """Resize [B,C,H,W] to width x height with one of TORCH_METHODS (optionally centre-cropping first)."""
    if method not in TORCH_METHODS:
        raise ValueError(f"resize method must be one of {', '.join(TORCH_METHODS)}, got {method!r}")
    if crop == "center":
        samples = center_crop_to_aspect(samples, width, height)
    kwargs = {"align_corners": False} if method in ("bilinear", "bicubic") else {}
    resized = F.interpolate(samples, size=(height, width), mode=method, **kwargs)
    return resized.clamp(0, 1) if method == "bicubic" else resized
