"""AutoencoderKL (the SD1/SD2/SDXL VAE) in the single-file checkpoint's `first_stage_model.*` key layout.

`encode` maps images in [-1, 1] ([B, 3, H, W]) to the latent distribution's mean, unscaled (the LATENT
convention; the per-family scaling factor is applied by the sampler side); `decode` is the inverse.
Tiled variants bound memory for large images (engine.models.tiling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.attention import attention
from engine.models.tiling import tiled_apply


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of an AutoencoderKL; `embed_dim` is the latent channel count."""

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    z_channels: int = 4
    embed_dim: int = 4
    in_channels: int = 3
    out_ch: int = 3
    use_quant_conv: bool = True

    @property
    def downscale(self) -> int:
        """Pixels per latent cell along each side (8 for the SD VAE)."""
        return 2 ** (len(self.ch_mult) - 1)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(32, channels, eps=1e-6)


class ResnetBlock(nn.Module):
    """Two norm-swish-conv stages with a residual (1x1 `nin_shortcut` when the width changes)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.norm1 = _norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = _norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In place where the tensor is this block's own fresh result: one memory pass and allocation less.
        h = self.conv1(F.silu(self.norm1(x), inplace=True))
        h = self.conv2(F.silu(self.norm2(h), inplace=True))
        return h.add_(self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x)


class AttnBlock(nn.Module):
    """Single-head self-attention over all pixels, with 1x1-conv q/k/v/proj_out."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = _norm(channels)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n = self.norm(x)
        # Pixel-major memory for q/k/v, as ComfyUI hands them to SDPA: the CPU kernel's sums depend on the layout.
        q, k, v = (conv(n).flatten(2).transpose(1, 2).contiguous() for conv in (self.q, self.k, self.v))
        out = attention(q, k, v, heads=1).transpose(1, 2).reshape(b, c, h, w)
        return self.proj_out(out).add_(x)


class Downsample(nn.Module):
    """Stride-2 3x3 conv after padding one pixel right and bottom (the VAE's asymmetric padding)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest 2x then a 3x3 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class _MidBlock(nn.Module):
    def __init__(self, channels: int, make_block=ResnetBlock):
        super().__init__()
        self.block_1 = make_block(channels, channels)
        self.attn_1 = AttnBlock(channels)
        self.block_2 = make_block(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Encoder(nn.Module):
    """Image -> 2*z_channels moments (mean and log-variance)."""

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        self.conv_in = nn.Conv2d(cfg.in_channels, cfg.ch, 3, padding=1)
        self.down = nn.ModuleList()
        ch = cfg.ch
        for level, mult in enumerate(cfg.ch_mult):
            stage = nn.Module()
            blocks = []
            for _ in range(cfg.num_res_blocks):
                blocks.append(ResnetBlock(ch, cfg.ch * mult))
                ch = cfg.ch * mult
            stage.block = nn.ModuleList(blocks)
            if level != len(cfg.ch_mult) - 1:
                stage.downsample = Downsample(ch)
            self.down.append(stage)
        self.mid = _MidBlock(ch)
        self.norm_out = _norm(ch)
        self.conv_out = nn.Conv2d(ch, 2 * cfg.z_channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(x)
        for stage in self.down:
            for block in stage.block:
                h = block(h)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
        h = self.mid(h)
        return self.conv_out(F.silu(self.norm_out(h), inplace=True))


class Decoder(nn.Module):
    """z_channels latent -> image; `up[i]` mirrors encoder level i (built and run deepest first).

    The video decoder overrides `make_resnet_block` and `make_conv_out` to add time mixing.
    """

    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch = cfg.ch * cfg.ch_mult[-1]
        self.conv_in = nn.Conv2d(cfg.z_channels, ch, 3, padding=1)
        self.mid = _MidBlock(ch, self.make_resnet_block)
        stages = []
        for level in reversed(range(len(cfg.ch_mult))):
            stage = nn.Module()
            blocks = []
            for _ in range(cfg.num_res_blocks + 1):
                blocks.append(self.make_resnet_block(ch, cfg.ch * cfg.ch_mult[level]))
                ch = cfg.ch * cfg.ch_mult[level]
            stage.block = nn.ModuleList(blocks)
            if level != 0:
                stage.upsample = Upsample(ch)
            stages.insert(0, stage)
        self.up = nn.ModuleList(stages)
        self.norm_out = _norm(ch)
        self.conv_out = self.make_conv_out(ch, cfg.out_ch)

    def make_resnet_block(self, in_channels: int, out_channels: int) -> nn.Module:
        return ResnetBlock(in_channels, out_channels)

    def make_conv_out(self, in_channels: int, out_channels: int) -> nn.Module:
        return nn.Conv2d(in_channels, out_channels, 3, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.mid(self.conv_in(z))
        for stage in reversed(self.up):
            for block in stage.block:
                h = block(h)
            if hasattr(stage, "upsample"):
                h = stage.upsample(h)
        return self.conv_out(F.silu(self.norm_out(h), inplace=True))


class AutoencoderKL(nn.Module):
    """The KL-regularised autoencoder; deterministic encode (the mean), plain and tiled paths."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = self.make_decoder(config)
        if config.use_quant_conv:
            self.quant_conv = nn.Conv2d(2 * config.z_channels, 2 * config.embed_dim, 1)
            self.post_quant_conv = nn.Conv2d(config.embed_dim, config.z_channels, 1)

    def make_decoder(self, config: VAEConfig) -> nn.Module:
        """The image decoder; SVD's autoencoder overrides this with its temporal decoder."""
        return Decoder(config)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """[B, 3, H, W] in [-1, 1] -> latent mean [B, embed_dim, H/f, W/f] (f = config.downscale)."""
        moments = self.encoder(images)
        if self.config.use_quant_conv:
            moments = self.quant_conv(moments)
        return moments[:, : self.config.embed_dim]

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Latent [B, embed_dim, h, w] -> images [B, 3, h*f, w*f], roughly in [-1, 1] (not clamped)."""
        if self.config.use_quant_conv:
            latents = self.post_quant_conv(latents)
        return self.decoder(latents)

    def decode_tiled(self, latents: torch.Tensor, tile: int = 64, overlap: int = 16) -> torch.Tensor:
        """`decode` in overlapping latent tiles of `tile` cells, blended across `overlap` cells."""
        f = self.config.downscale
        return tiled_apply(self.decode, latents, tile, overlap, 1, f)

    def encode_tiled(self, images: torch.Tensor, tile: int = 512, overlap: int = 64) -> torch.Tensor:
        """`encode` in overlapping pixel tiles (sizes in pixels, rounded down to the latent grid)."""
        f = self.config.downscale
        return tiled_apply(self.encode, images, tile // f, overlap // f, f, 1)
