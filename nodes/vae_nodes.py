"""VAE nodes: pixels <-> latents, plain or in tiles, and the inpainting encode.

A plain decode/encode that runs out of memory frees what the failed attempt held, offloads the other
models and retries in tiles, so a large image degrades to slower rather than failing.
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.values.vae import crop_to_grid, vae_decode, vae_encode
from nodes.model_files import model_manager

MAX_TILE = 4096
# Widgets both tiled nodes take; the temporal sizes are ComfyUI's for video VAEs, accepted and unused here.
Overlap = Annotated[int, Widget(step=32), Field(ge=0, le=MAX_TILE)]
TemporalSize = Annotated[int, Widget(step=4), Field(ge=8, le=MAX_TILE)]
TemporalOverlap = Annotated[int, Widget(step=4), Field(ge=4, le=MAX_TILE)]


@node(category="latent", display_name="VAE Decode", outputs=[Out("IMAGE")])
class VAEDecode(Node):
    """Latent -> image (falls back to tiles when memory runs out)."""

    samples: Annotated[object, Socket("LATENT")]
    vae: Annotated[object, Socket("VAE")]

    def run(self, ctx):
        return (vae_decode(model_manager(ctx), self.vae, self.samples["samples"]),)


@node(category="latent", display_name="VAE Encode", outputs=[Out("LATENT")])
class VAEEncode(Node):
    """Image -> latent (cropped to the VAE's grid; falls back to tiles when memory runs out)."""

    pixels: Annotated[object, Socket("IMAGE")]
    vae: Annotated[object, Socket("VAE")]

    def run(self, ctx):
        return ({"samples": vae_encode(model_manager(ctx), self.vae, self.pixels)},)


def _tile_overlap(tile_size: int, overlap: int) -> int:
    """The overlap the tiled nodes use: at most a quarter of the tile."""
    return min(overlap, tile_size // 4)


@node(category="_for_testing", display_name="VAE Decode (Tiled)", outputs=[Out("IMAGE")])
class VAEDecodeTiled(Node):
    """Latent -> image in overlapping tiles of tile_size pixels (bounded memory for large images)."""

    samples: Annotated[object, Socket("LATENT")]
    vae: Annotated[object, Socket("VAE")]
    tile_size: Annotated[int, Widget(step=32)] = Field(512, ge=64, le=MAX_TILE)
    overlap: Overlap = 64
    temporal_size: TemporalSize = 64
    temporal_overlap: TemporalOverlap = 8

    def run(self, ctx):
        f = self.vae.downscale
        images = vae_decode(model_manager(ctx), self.vae, self.samples["samples"], tile=self.tile_size // f,
                            overlap=_tile_overlap(self.tile_size, self.overlap) // f, force_tiles=True)
        return (images,)


@node(category="_for_testing", display_name="VAE Encode (Tiled)", outputs=[Out("LATENT")])
class VAEEncodeTiled(Node):
    """Image -> latent in overlapping tiles of tile_size pixels."""

    pixels: Annotated[object, Socket("IMAGE")]
    vae: Annotated[object, Socket("VAE")]
    tile_size: Annotated[int, Widget(step=64)] = Field(512, ge=64, le=MAX_TILE)
    overlap: Overlap = 64
    temporal_size: TemporalSize = 64
    temporal_overlap: TemporalOverlap = 8

    def run(self, ctx):
        samples = vae_encode(model_manager(ctx), self.vae, self.pixels, tile=self.tile_size,
                             overlap=_tile_overlap(self.tile_size, self.overlap), force_tiles=True)
        return ({"samples": samples},)


def grow_mask(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Dilate a [B,1,H,W] 0/1 mask by about `pixels` in every direction."""
    if pixels <= 0:
        return mask
    kernel = torch.ones(1, 1, pixels, pixels)
    grown = F.conv2d(mask, kernel, padding=math.ceil((pixels - 1) / 2))
    return grown[..., :mask.shape[-2], :mask.shape[-1]].clamp(0, 1)


@node(category="latent/inpaint", display_name="VAE Encode (for Inpainting)", outputs=[Out("LATENT")])
class VAEEncodeForInpaint(Node):
    """Encode with the masked area greyed out, and set a noise mask (grown by grow_mask_by) for sampling."""

    pixels: Annotated[object, Socket("IMAGE")]
    vae: Annotated[object, Socket("VAE")]
    mask: Annotated[object, Socket("MASK")]
    grow_mask_by: Annotated[int, Widget(step=1)] = Field(6, ge=0, le=64)

    def run(self, ctx):
        mask = self.mask.reshape(-1, 1, self.mask.shape[-2], self.mask.shape[-1]).float()
        mask = F.interpolate(mask, size=self.pixels.shape[1:3], mode="bilinear").round()
        pixels = crop_to_grid(self.pixels, self.vae.downscale)[..., :3]
        mask = crop_to_grid(mask.movedim(1, -1), self.vae.downscale).movedim(-1, 1)
        greyed = (pixels - 0.5) * (1.0 - mask).movedim(1, -1) + 0.5
        samples = vae_encode(model_manager(ctx), self.vae, greyed)
        return ({"samples": samples, "noise_mask": grow_mask(mask, self.grow_mask_by)},)
