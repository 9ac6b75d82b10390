"""Winograd F(2×2, 3×3) 3×3 convolutions in plain torch, for feature maps too small for NNPACK (under 32×32).

NNPACK (engine/winograd.py) transforms the kernel on every call, which a small feature map does not pay back.
F(2×2, 3×3) computes each 2×2 output tile from a 4×4 input tile with 16 multiplications where the direct
convolution needs 36, as 16 batched matrix products [out channels × in channels] × [in channels × tiles].
The kernel is transformed on every call too, but in chunks of output channels, each taken through its
products and back to pixels while it is still in the CPU's cache. Measured on a 2-core AVX2 CPU
(benchmarks/winograd_conv.py): 0.64-0.87x oneDNN's time for the SD1.5 UNet's 16² convolutions in a CFG batch
(640-2560 channels), 0.86-0.99x for 256-640 channels or one image; slower below about 50 tiles or 256
channels, so those stay direct. Rounding differs from the direct convolution by about 1e-6 of
the output's scale: its transforms only add and halve.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.chunked_cast import cast_slice

MIN_TILES = 48  # 2×2 output tiles in the batch: a CFG pair at 8² (32 tiles) measured 0.87-1.19x direct's time
MIN_CHANNELS = 256  # thinner layers do too little arithmetic to pay for the transforms
CHUNK_BYTES = 16 << 20  # transformed kernel, and its products, per chunk (8 MiB and 4 MiB measured slower)
TRANSFORM_BYTES = 64 << 20  # transformed input per group of images: bounds the extra memory of a large batch

# Lavin & Gray's F(2, 3) matrices; a 2-D transform is the Kronecker product of the 1-D one with itself.
_INPUT = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
_KERNEL = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
_OUTPUT = ((1, 1, 1, 0), (0, 1, -1, -1))
_TO_TILES, _KERNEL_TILES, _FROM_TILES = (
    torch.kron(m, m).float() for m in (torch.tensor(_INPUT, dtype=torch.float64),
                                       torch.tensor(_KERNEL, dtype=torch.float64),
                                       torch.tensor(_OUTPUT, dtype=torch.float64)))


def f2x2_pays(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether F(2×2, 3×3) can beat the direct convolution for this [N, C, H, W] input and [K, C, 3, 3] kernel,
    so is worth timing (engine/kernel_timing.py): with fewer tiles or channels it never did on the CPUs measured."""
    tiles = x.shape[0] * ((x.shape[-2] + 1) // 2) * ((x.shape[-1] + 1) // 2)
    return tiles >= MIN_TILES and min(weight.shape[0], weight.shape[1]) >= MIN_CHANNELS


def winograd_f2x2_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """conv2d(x, weight, bias, padding=1) for an [N, C, H, W] fp32 CPU tensor by F(2×2, 3×3), in groups of images
    whose transformed input fits TRANSFORM_BYTES. A half-precision weight is cast chunk by chunk."""
    per_image = 4 * x[0].numel() * x.element_size()
    group = max(1, TRANSFORM_BYTES // per_image)
    outputs = [_convolve(x[i:i + group], weight, bias) for i in range(0, x.shape[0], group)]
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs)


def _convolve(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    batch, channels, height, width = x.shape
    out_channels = weight.shape[0]
    rows, cols = (height + 1) // 2, (width + 1) // 2
    tiles = batch * rows * cols
    # 4×4 input windows every 2 pixels, [16 window positions, channels, tiles], then transformed
    padded = F.pad(x, (1, 2 * cols + 1 - width, 1, 2 * rows + 1 - height))
    windows = padded.unfold(2, 4, 2).unfold(3, 4, 2).permute(4, 5, 1, 0, 2, 3).reshape(16, channels * tiles)
    transformed = (_TO_TILES @ windows).view(16, channels, tiles)
    out = torch.empty(batch, out_channels, 2 * rows, 2 * cols, dtype=x.dtype, device=x.device)
    flat = weight.reshape(out_channels, channels * 9)
    chunk = max(16, CHUNK_BYTES // (64 * max(channels, tiles)) // 16 * 16)
    for first in range(0, out_channels, chunk):
        last = min(first + chunk, out_channels)
        kernel = (_KERNEL_TILES @ cast_slice(flat[first:last], x.dtype).view(-1, 9).T).view(16, last - first, channels)
        products = torch.bmm(kernel, transformed).view(16, -1)
        tiles_out = (_FROM_TILES @ products).view(2, 2, last - first, batch, rows, cols).permute(3, 2, 4, 0, 5, 1)
        out[:, first:last].view(batch, last - first, rows, 2, cols, 2).copy_(tiles_out)
    out = out[:, :, :height, :width]
    return out.contiguous() if bias is None else out + bias.to(x.dtype).view(1, -1, 1, 1)
