"""ComfyUI's `comfy.k_diffusion.utils`: the small tensor helpers k-diffusion style samplers use."""

from __future__ import annotations

import torch

from engine.sampling.schedules import append_zero

__all__ = ["append_dims", "append_zero"]


def append_dims(x: torch.Tensor, target_dims: int) -> torch.Tensor:
    """`x` with trailing singleton dimensions up to `target_dims` (a [B] sigma against a [B,C,H,W] x)."""
    missing = target_dims - x.ndim
    if missing < 0:
        raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}, which is less")
    return x[(...,) + (None,) * missing]
