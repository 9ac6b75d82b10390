"""VAE nodes: pixels <-> latents, plain or in tiles, and the inpainting encode.

A plain decode/encode that runs out of memory frees what the failed attempt held, offloads the other
models and retries in tiles, so a large image degrades to slower rather than failing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.memory import ModelManager
from nodes.model_values import VAEModel, weight_dtype

MAX_TILE = 4096


def _with_tiled_fallback(manager: ModelManager, vae: VAEModel, x: torch.Tensor,
                         plain: Callable, tiled: Callable) -> torch.Tensor:
    with manager.use(vae.handle) as model:
        device, dtype = weight_dtype(model)
        x = x.to(device, dtype)
        with torch.inference_mode():
            try:
                return plain(model, x).float()
            except torch.OutOfMemoryError:
                pass  # leave the except block first so the failed attempt's tensors are freed
            manager.free_device_memory(keep=[vae.handle])
            return tiled(model, x).float()


def vae_decode(manager: ModelManager, vae: VAEModel, samples: torch.Tensor, tile: int = 64,
               overlap: int = 16, force_tiles: bool = False) -> torch.Tensor:
    """Latents [B,C,h,w] -> IMAGE [B,H,W,3] in 0..1; tile/overlap in latent cells."""
    def tiled(model, z):
        return model.decode_tiled(z, tile, overlap)

    plain = tiled if force_tiles else (lambda model, z: model.decode(z))
    images = _with_tiled_fallback(manager, vae, samples, plain, tiled)
    return ((images + 1.0) / 2.0).clamp(0, 1).movedim(1, -1).cpu()


def crop_to_grid(pixels: torch.Tensor, cell: int) -> torch.Tensor:
    """Centre-crop IMAGE [B,H,W,C] so both sides are multiples of `cell` (the VAE's downscale)."""
    h, w = pixels.shape[1] // cell * cell, pixels.shape[2] // cell * cell
    top, left = (pixels.shape[1] - h) // 2, (pixels.shape[2] - w) // 2
    return pixels[:, top:top + h, left:left + w]


def vae_encode(manager: ModelManager, vae: VAEModel, pixels: torch.Tensor, tile: int = 512,
               overlap: int = 64, force_tiles: bool = False) -> torch.Tensor:
    """IMAGE [B,H,W,C] in 0..1 -> latents [B,C,H/f,W/f] (float32, CPU); tile/overlap in pixels."""
    x = crop_to_grid(pixels, vae.downscale)[..., :3].movedim(-1, 1) * 2.0 - 1.0

    def tiled(model, images):
        return model.encode_tiled(images, tile, overlap)

    plain = tiled if force_tiles else (lambda model, images: model.encode(images))
    return _with_tiled_fallback(manager, vae, x, plain, tiled).cpu()


@node(category="latent", display_name="VAE Decode", outputs=[Out("IMAGE")])
class VAEDecode(Node):
    """Latent -> image (falls back to tiles when memory runs out)."""

    samples: Annotated[object, Socket("LATENT")]
    vae: Annotated[object, Socket("VAE")]

    def run(self, ctx):
        return (vae_decode(ctx.services.models, self.vae, self.samples["samples"]),)


@node(category="latent", display_name="VAE Encode", outputs=[Out("LATENT")])
class VAEEncode(Node):
    """Image -> latent (cropped to the VAE's grid; falls back to tiles when memory runs out)."""

    pixels: Annotated[object, Socket("IMAGE")]
    vae: Annotated[object, Socket("VAE")]

    def run(self, ctx):
        return ({"samples": vae_encode(ctx.services.models, self.vae, self.pixels)},)


@node(category="_for_testing", display_name="VAE Decode (Tiled)", outputs=[Out("IMAGE")])
class VAEDecodeTiled(Node):
    """Latent -> image in overlapping tiles of tile_size pixels (bounded memory for large images)."""

    samples: Annotated[object, Socket("LATENT")]
    vae: Annotated[object, Socket("VAE")]
    tile_size: Annotated[int, Widget(step=32)] = Field(512, ge=64, le=MAX_TILE)
    overlap: Annotated[int, Widget(step=32)] = Field(64, ge=0, le=MAX_TILE)
    temporal_size: Annotated[int, Widget(step=4)] = Field(64, ge=8, le=MAX_TILE)
    temporal_overlap: Annotated[int, Widget(step=4)] = Field(8, ge=4, le=MAX_TILE)

    def run(self, ctx):
        f = self.vae.downscale
        overlap = min(self.overlap, self.tile_size // 4)
        images = vae_decode(ctx.services.models, self.vae, self.samples["samples"],
                            tile=self.tile_size // f, overlap=overlap // f, force_tiles=True)
        return (images,)


@node(category="_for_testing", display_name="VAE Encode (Tiled)", outputs=[Out("LATENT")])
class VAEEncodeTiled(Node):
    """Image -> latent in overlapping tiles of tile_size pixels."""

    pixels: Annotated[object, Socket("IMAGE")]
    vae: Annotated[object, Socket("VAE")]
    tile_size: Annotated[int, Widget(step=64)] = Field(512, ge=64, le=MAX_TILE)
    overlap: Annotated[int, Widget(step=32)] = Field(64, ge=0, le=MAX_TILE)
    temporal_size: Annotated[int, Widget(step=4)] = Field(64, ge=8, le=MAX_TILE)
    temporal_overlap: Annotated[int, Widget(step=4)] = Field(8, ge=4, le=MAX_TILE)

    def run(self, ctx):
        overlap = min(self.overlap, self.tile_size // 4)
        samples = vae_encode(ctx.services.models, self.vae, self.pixels, tile=self.tile_size, overlap=overlap,
                             force_tiles=True)
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
        samples = vae_encode(ctx.services.models, self.vae, greyed)
        return ({"samples": samples, "noise_mask": grow_mask(mask, self.grow_mask_by)},)
