"""ComfyUI's `comfy.float`: casting weights to low-precision float types (Loom rounds to nearest; ComfyUI
rounds 8-bit floats stochastically, which changes the last bit of some weights)."""

from __future__ import annotations

import torch


def stochastic_rounding(value: torch.Tensor, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """`value` cast to `dtype` (round to nearest)."""
    return value.to(dtype=dtype)
