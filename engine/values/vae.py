"""VAE: the autoencoder value between pixels and latents, with ComfyUI's VAE interface (encode, decode,
their tiled forms, first_stage_model, ratios, dtype) so node packs call the same object Loom's nodes use.

A plain decode/encode that runs out of memory frees what the failed attempt held, offloads the other
models and retries in tiles, so a large image degrades to slower rather than failing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.memory import ModelHandle, ModelManager, weight_dtype
from engine.models.vae import VAEConfig

DECODE_TILE, DECODE_OVERLAP = 64, 16  # latent cells (ComfyUI's decode_tiled defaults)
ENCODE_TILE, ENCODE_OVERLAP = 512, 64  # pixels (ComfyUI's encode_tiled defaults)


@dataclass(frozen=True)
class VAEModel:
    """VAE: the autoencoder's handle and its sizes. LATENT samples are unscaled VAE latents."""

    handle: ModelHandle
    config: VAEConfig

    @property
    def downscale(self) -> int:
        return self.config.downscale

    # -- ComfyUI's VAE interface -----------------------------------------------------------------

    @property
    def downscale_ratio(self) -> int:
        return self.config.downscale

    @property
    def upscale_ratio(self) -> int:
        return self.config.downscale

    @property
    def latent_channels(self) -> int:
        return self.config.embed_dim

    @property
    def latent_dim(self) -> int:
        return 2

    @property
    def vae_dtype(self) -> torch.dtype:
        return self.handle.manager.dtype_for("vae")

    @property
    def device(self) -> torch.device:
        return self.handle.manager.device

    @property
    def output_device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def first_stage_model(self) -> nn.Module:
        """The autoencoder module, placed on the compute device."""
        return self.handle.manager.load(self.handle)

    def spacial_compression_decode(self) -> int:
        return self.upscale_ratio

    def spacial_compression_encode(self) -> int:
        return self.downscale_ratio

    def decode(self, samples_in: torch.Tensor, vae_options: dict | None = None) -> torch.Tensor:
        """Latents [B,C,h,w] -> IMAGE [B,H,W,3] in 0..1."""
        return vae_decode(self.handle.manager, self, samples_in)

    def encode(self, pixel_samples: torch.Tensor) -> torch.Tensor:
        """IMAGE [B,H,W,C] in 0..1 -> latents [B,C,H/8,W/8]."""
        return vae_encode(self.handle.manager, self, pixel_samples)

    def decode_tiled(self, samples: torch.Tensor, tile_x: int | None = None, tile_y: int | None = None,
                     overlap: int | None = None, tile_t: int | None = None, overlap_t: int | None = None):
        """decode in square tiles of tile_x latent cells (tile_y is taken equal)."""
        return vae_decode(self.handle.manager, self, samples, tile=tile_x or DECODE_TILE,
                          overlap=DECODE_OVERLAP if overlap is None else overlap, force_tiles=True)

    def encode_tiled(self, pixel_samples: torch.Tensor, tile_x: int | None = None, tile_y: int | None = None,
                     overlap: int | None = None, tile_t: int | None = None, overlap_t: int | None = None):
        """encode in square tiles of tile_x pixels (tile_y is taken equal)."""
        return vae_encode(self.handle.manager, self, pixel_samples, tile=tile_x or ENCODE_TILE,
                          overlap=ENCODE_OVERLAP if overlap is None else overlap, force_tiles=True)

    def get_sd(self) -> dict[str, torch.Tensor]:
        return dict(self.handle.source_tensors())

    def throw_exception_if_invalid(self) -> None:
        """ComfyUI's check that the file was a VAE; a Loom VAE value always holds one."""


def _run_vae(manager: ModelManager, vae: VAEModel, x: torch.Tensor, method: str, tile: int, overlap: int,
             force_tiles: bool) -> torch.Tensor:
    """The placed VAE's `method` ("decode" / "encode") on x, in tiles when forced or when the whole call
    runs out of memory (then other models are offloaded first)."""
    with manager.use(vae.handle) as model:
        device, dtype = weight_dtype(model)
        x = x.to(device, dtype)
        plain, tiled = getattr(model, method), getattr(model, f"{method}_tiled")
        with torch.inference_mode():
            try:
                return (tiled(x, tile, overlap) if force_tiles else plain(x)).float()
            except torch.OutOfMemoryError:
                pass  # leave the except block first so the failed attempt's tensors are freed
            manager.free_device_memory(keep=[vae.handle])
            return tiled(x, tile, overlap).float()


def vae_decode(manager: ModelManager, vae: VAEModel, samples: torch.Tensor, tile: int = 64,
               overlap: int = 16, force_tiles: bool = False) -> torch.Tensor:
    """Latents [B,C,h,w] -> IMAGE [B,H,W,3] in 0..1; tile/overlap in latent cells."""
    images = _run_vae(manager, vae, samples, "decode", tile, overlap, force_tiles)
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
    return _run_vae(manager, vae, x, "encode", tile, overlap, force_tiles).cpu()


