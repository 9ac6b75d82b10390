"""ComfyUI's `comfy.ldm.modules.diffusionmodules.util`: the small layer helpers of the SD UNet code."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.models.blocks import group_norm as normalization
from engine.models.blocks import timestep_embedding as loom_timestep_embedding

__all__ = ["avg_pool_nd", "checkpoint", "conv_nd", "linear", "normalization", "timestep_embedding", "zero_module"]


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0,
                       repeat_only: bool = False) -> torch.Tensor:
    """Sinusoidal embeddings [N, dim] of timesteps (repeat_only repeats the raw timestep instead)."""
    if repeat_only:
        return timesteps[:, None].repeat(1, dim)
    return loom_timestep_embedding(timesteps, dim, max_period)


def zero_module(module: nn.Module) -> nn.Module:
    """`module` with every parameter zeroed."""
    for parameter in module.parameters():
        parameter.detach().zero_()
    return module


def conv_nd(dims: int, *args: Any, **kwargs: Any) -> nn.Module:
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[dims](*args, **kwargs)


def avg_pool_nd(dims: int, *args: Any, **kwargs: Any) -> nn.Module:
    return {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}[dims](*args, **kwargs)


def linear(*args: Any, **kwargs: Any) -> nn.Module:
    return nn.Linear(*args, **kwargs)


def checkpoint(func: Any, inputs: Any, params: Any, flag: bool) -> Any:
    """Calls `func(*inputs)` (no gradient checkpointing at inference)."""
    return func(*inputs)
