"""UNet building blocks in the LDM key layout: timestep embedding, ResBlock, down/upsampling, and the
sequential container that routes the time embedding and text context to the layers that use them.

Kept small and importable: the ControlNet and the video UNet are assembled from the same pieces.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.transformer import SpatialTransformer


def timestep_embedding(timesteps: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding [N, dim] of (possibly fractional) timesteps, cosines first (LDM order)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = timesteps.float()[:, None] * freqs.to(timesteps.device)[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = F.pad(emb, (0, 1))
    return emb


def group_norm(channels: int) -> nn.GroupNorm:
    """The 32-group norm every UNet block uses."""
    return nn.GroupNorm(32, channels)


class TimestepBlock(nn.Module):
    """A layer that takes the time embedding; `transformer_options` reaches subclasses (video blocks)."""

    def forward(self, x: torch.Tensor, emb: torch.Tensor, transformer_options: dict | None = None):
        raise NotImplementedError


class ResBlock(TimestepBlock):
    """Two 3x3 convs with the time embedding added in between; 1x1 skip when the width changes."""

    def __init__(self, channels: int, emb_channels: int, out_channels: int | None = None):
        super().__init__()
        out_channels = out_channels or channels
        # SiLU in place after each norm (the norm's output is fresh): one memory pass and allocation less.
        # Not in emb_layers: the time embedding it reads is shared by every block.
        self.in_layers = nn.Sequential(
            group_norm(channels), nn.SiLU(inplace=True), nn.Conv2d(channels, out_channels, 3, padding=1)
        )
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_channels, out_channels))
        self.out_layers = nn.Sequential(
            group_norm(out_channels), nn.SiLU(inplace=True), nn.Dropout(0.0),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip_connection = nn.Identity() if out_channels == channels else nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, transformer_options: dict | None = None) -> torch.Tensor:
        h = self.in_layers(x)
        h += self.emb_layers(emb).to(h.dtype)[:, :, None, None]
        return self.out_layers(h).add_(self.skip_connection(x))


class Downsample(nn.Module):
    """Stride-2 3x3 conv (key `op`)."""

    def __init__(self, channels: int, out_channels: int | None = None):
        super().__init__()
        self.op = nn.Conv2d(channels, out_channels or channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest 2x (or to `output_size`, for odd skip sizes) then a 3x3 conv (key `conv`)."""

    def __init__(self, channels: int, out_channels: int | None = None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, 3, padding=1)

    def forward(self, x: torch.Tensor, output_size: tuple[int, int] | None = None) -> torch.Tensor:
        if output_size is None:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        else:
            x = F.interpolate(x, size=tuple(output_size), mode="nearest")
        return self.conv(x)


class TimestepSequential(nn.Sequential):
    """Runs layers in order, giving each the inputs it takes (time embedding, context, output size)."""

    def forward(
        self,
        x: torch.Tensor,
        emb: torch.Tensor,
        context: torch.Tensor | None = None,
        transformer_options: dict | None = None,
        output_size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        for layer in self:
            if isinstance(layer, TimestepBlock):
                x = layer(x, emb, transformer_options)
            elif isinstance(layer, SpatialTransformer):
                x = layer(x, context, transformer_options)
                if transformer_options is not None and "transformer_index" in transformer_options:
                    transformer_options["transformer_index"] += 1
            elif isinstance(layer, Upsample):
                x = layer(x, output_size)
            else:
                x = layer(x)
        return x
