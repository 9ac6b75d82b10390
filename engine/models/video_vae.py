"""SVD's autoencoder: the SD encoder with a temporal decoder (`first_stage_model.*` of svd.safetensors).

The decoder's ResnetBlocks each add a `time_stack` of [3,1,1] convs over frames, blended in by a learned
`mix_factor` (here alpha = sigmoid(mix_factor) weighs the temporal side), and `conv_out` is followed by a
[3,1,1] `time_mix_conv`. No quant convs. A latent batch is one video; `decode` runs it in chunks of
frames (each chunk decoded as its own clip, as sgm and diffusers do) to bound memory.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.memory import measured_ram_budget
from engine.models.vae import AutoencoderKL, Decoder, ResnetBlock, VAEConfig

# Activation bytes per output pixel per frame of the decoder in fp32 (measured about 3.5 KB on the CPU at
# 576x1024 by benchmarks/svd_memory.py; rounded up).
DECODE_BYTES_PER_PIXEL = 4096


class _TemporalStack(nn.Module):
    """Norm-swish-conv twice over [b, C, t, h, w] with [3,1,1] kernels, plus the input (no time embedding)."""

    def __init__(self, channels: int):
        super().__init__()
        self.in_layers = nn.Sequential(nn.GroupNorm(32, channels), nn.SiLU(),
                                       nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)))
        self.out_layers = nn.Sequential(nn.GroupNorm(32, channels), nn.SiLU(), nn.Dropout(0.0),
                                        nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.out_layers(self.in_layers(x))


def _as_video(x: torch.Tensor) -> torch.Tensor:
    """Frames [t, C, h, w] -> one clip [1, C, t, h, w]."""
    return x.transpose(0, 1)[None]


def _as_frames(x: torch.Tensor) -> torch.Tensor:
    return x[0].transpose(0, 1)


class TemporalResnetBlock(ResnetBlock):
    """A decoder ResnetBlock followed by a temporal stack; out = a*temporal + (1-a)*spatial."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels)
        self.time_stack = _TemporalStack(out_channels)
        self.mix_factor = nn.Parameter(torch.tensor([0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = super().forward(x)
        temporal = _as_frames(self.time_stack(_as_video(spatial)))
        alpha = torch.sigmoid(self.mix_factor.float()).to(spatial.dtype)
        return alpha * temporal + (1.0 - alpha) * spatial


class TimeMixConv(nn.Conv2d):
    """The decoder's 3x3 output conv followed by a [3,1,1] conv over frames (`time_mix_conv`)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 3, padding=1)
        self.time_mix_conv = nn.Conv3d(out_channels, out_channels, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _as_frames(self.time_mix_conv(_as_video(super().forward(x))))


class VideoDecoder(Decoder):
    """The image decoder with time mixing in every ResnetBlock and after conv_out; input is one clip."""

    def make_resnet_block(self, in_channels: int, out_channels: int) -> nn.Module:
        return TemporalResnetBlock(in_channels, out_channels)

    def make_conv_out(self, in_channels: int, out_channels: int) -> nn.Module:
        return TimeMixConv(in_channels, out_channels)


def decode_chunk_frames(latent_shape: torch.Size, downscale: int, free_bytes: int | None) -> int:
    """Frames per decode chunk that fit `free_bytes` of activations (all frames when unknown)."""
    frames, _, h, w = latent_shape
    if free_bytes is None:
        return frames
    per_frame = h * w * downscale * downscale * DECODE_BYTES_PER_PIXEL
    return max(1, min(frames, free_bytes // per_frame))


class VideoAutoencoder(AutoencoderKL):
    """SVD's first stage: encode frames independently; decode a frame batch as one video.

    `decode_chunk_size` (frames per chunk; None = decide from free memory) bounds decoder memory.
    """

    decode_chunk_size: int | None = None

    def __init__(self, config: VAEConfig):
        if config.use_quant_conv:
            raise ValueError("SVD's temporal autoencoder has no quant_conv/post_quant_conv")
        super().__init__(config)

    def make_decoder(self, config: VAEConfig) -> nn.Module:
        return VideoDecoder(config)

    def decode(self, latents: torch.Tensor, chunk_size: int | None = None) -> torch.Tensor:
        """Latents [frames, C, h, w] -> frames [frames, 3, H, W], decoded `chunk_size` frames at a time."""
        chunk = chunk_size or self.decode_chunk_size
        if chunk is None:
            chunk = decode_chunk_frames(latents.shape, self.config.downscale, _free_bytes(latents.device))
        return torch.cat([self.decoder(part) for part in latents.split(chunk)])

    def decode_tiled(self, latents: torch.Tensor, tile: int = 64, overlap: int = 16) -> torch.Tensor:
        """Spatial tiles of the whole clip, one frame chunk at a time (each tile keeps its frames)."""
        chunk = self.decode_chunk_size or latents.shape[0]
        return torch.cat([super(VideoAutoencoder, self).decode_tiled(part, tile, overlap)
                          for part in latents.split(chunk)])


def _free_bytes(device: torch.device) -> int | None:
    """Memory free for activations on `device` now (CPU: 80% of available RAM)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "cpu":
        return measured_ram_budget()
    return None

