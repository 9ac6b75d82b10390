"""Run an image-to-image function over overlapping tiles and blend the seams (tiled VAE encode/decode).

Tiles are laid out on the coarser of the two grids (the latent grid); `in_scale`/`out_scale` convert
it to the input and output pixel grids. Overlaps are cross-faded with linear ramps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of `tile` cells overlapping by at least `overlap`."""
    if length <= tile:
        return [0]
    stride = max(1, tile - overlap)
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _ramp(size: int, fade: int, fade_start: bool, fade_end: bool) -> torch.Tensor:
    """1-D weights: 1 inside, rising over `fade` cells at a faded start, falling at a faded end."""
    weights = torch.ones(size)
    fade = min(fade, size // 2)
    if fade:
        up = torch.arange(1, fade + 1, dtype=torch.float32) / (fade + 1)
        if fade_start:
            weights[:fade] = up
        if fade_end:
            weights[size - fade :] = up.flip(0)
    return weights


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    overlap: int,
    in_scale: int,
    out_scale: int,
) -> torch.Tensor:
    """Apply `fn` tile by tile. Grid cells: `in_scale` input pixels map to `out_scale` output pixels;
    the output's leading dimensions (batch, channels) are those `fn` returns."""
    if tile <= overlap:
        raise ValueError(f"tile size {tile} must be larger than the overlap {overlap}")
    grid_h, grid_w = x.shape[-2] // in_scale, x.shape[-1] // in_scale
    out = None
    weight = torch.zeros(1, 1, grid_h * out_scale, grid_w * out_scale, device=x.device)
    fade = overlap * out_scale
    for y0 in tile_starts(grid_h, tile, overlap):
        for x0 in tile_starts(grid_w, tile, overlap):
            th, tw = min(tile, grid_h - y0), min(tile, grid_w - x0)
            piece = fn(x[..., y0 * in_scale : (y0 + th) * in_scale, x0 * in_scale : (x0 + tw) * in_scale])
            if out is None:
                shape = (*piece.shape[:-2], grid_h * out_scale, grid_w * out_scale)
                out = torch.zeros(shape, dtype=torch.float32, device=x.device)
            wy = _ramp(th * out_scale, fade, y0 > 0, y0 + th < grid_h)
            wx = _ramp(tw * out_scale, fade, x0 > 0, x0 + tw < grid_w)
            mask = (wy[:, None] * wx[None, :]).to(x.device)
            rows = slice(y0 * out_scale, (y0 + th) * out_scale)
            cols = slice(x0 * out_scale, (x0 + tw) * out_scale)
            out[..., rows, cols] += piece.float() * mask
            weight[..., rows, cols] += mask
    return (out / weight).to(x.dtype)
