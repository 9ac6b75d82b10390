"""Resizing channels-first tensors the way every image-sized input is fitted (ControlNet hints, latents,
images): torch interpolation modes, with an optional centre crop to the target's aspect ratio first.

Image nodes add Pillow's lanczos on top (nodes.image_tensors); the engine needs only the torch modes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

TORCH_METHODS: tuple[str, ...] = ("nearest-exact", "bilinear", "area", "bicubic")


def center_crop_to_aspect(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Crop [..., H, W] around its centre to the aspect ratio of width x height, trimming the same whole
    number of pixels from both sides (ComfyUI's rounding, so crops match it pixel for pixel)."""
    h, w = samples.shape[-2:]
    source, target = w / h, width / height
    x = round((w - w * (target / source)) / 2) if source > target else 0
    y = round((h - h * (source / target)) / 2) if source < target else 0
    return samples.narrow(-2, y, h - 2 * y).narrow(-1, x, w - 2 * x)


def interpolate(samples: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled") -> torch.Tensor:
    """Resize [B,C,H,W] to width x height with one of TORCH_METHODS (optionally centre-cropping first),
    with ComfyUI's numbers: torch's defaults, bicubic's overshoot left unclamped."""
    if method not in TORCH_METHODS:
        raise ValueError(f"resize method must be one of {', '.join(TORCH_METHODS)}, got {method!r}")
    if crop == "center":
        samples = center_crop_to_aspect(samples, width, height)
    return F.interpolate(samples, size=(height, width), mode=method)
