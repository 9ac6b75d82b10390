"""The "VAE" of models that denoise pixels directly (ComfyUI's `pixel_space` VAE option): encode and
decode are the identity, so VAEEncode/VAEDecode only map 0..1 pixels to -1..1 and back."""

import torch
from torch import nn


class PixelSpace(nn.Module):
    """Identity autoencoder with the AutoencoderKL call surface (one weight, so it has a device and dtype)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def encode_tiled(self, x: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
        return x

    def decode_tiled(self, z: torch.Tensor, tile: int, overlap: int) -> torch.Tensor:
        return z
