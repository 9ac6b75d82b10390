"""3×3 convolutions on the CPU by Winograd transforms or, on small maps, one matrix product, where those beat
oneDNN's direct ones.

torch's CPU convolution (oneDNN) multiplies every 3×3 window out; a Winograd transform gets the same result
from fewer multiplications. Feature maps of 32×32 and more take NNPACK's F(6×6, 3×3) kernels (about a quarter
of the multiplications), which ship inside torch: torch routes a convolution there only at batch 16 and more,
so Loom calls it itself, one image at a time (NNPACK's batch-1 inference kernel: its batched one measured
slower than oneDNN). NNPACK transforms the kernel on every call, which smaller maps do not pay back; below
32×32 Loom's own F(2×2, 3×3) (engine/winograd_f2x2.py) takes wide layers instead. Measured on a 2-core AVX2
CPU (benchmarks/winograd_conv.py): 0.3-0.7x oneDNN's time for the SD VAE's and UNet's 3×3 convolutions at
32×32 and more, 0.64-0.87x for the UNet's at 16².

On maps of at most SMALL_MAP_PIXELS (4×4 and less) no Winograd transform pays, and oneDNN lays the weight
out anew on every call, which costs it more than its product there (a 1280-channel layer at 4×4 in a CFG
batch: 37-45 ms, 13 ms with the weight laid out once): an fp32 weight takes one matrix product with the
unfolded input windows instead (engine/chunked_cast.unfolded_product, the batch's images side by side as
its columns), 0.5-0.85x oneDNN's time for 128- to 1280-channel 3×3 layers at 4×4 in a CFG batch. At 8×8
(WIDE_MAP_PIXELS) it pays only for a wide weight: 0.81-0.88x for the UNet's 1280-output layers (1280, 1920
and 2560 inputs), 1.0x for 960 channels, 1.06-1.11x for 128-640 outputs, which stay direct.

The transforms round differently: NNPACK's outputs differ from the direct convolution by about 1e-4 of their
scale (tests/models/test_winograd.py), far below one 8-bit pixel level. `--no-winograd` turns all three off
for results bit-identical to the direct convolution.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.chunked_cast import ChunkedCastConv2d, unfolded_product
from engine.winograd_f2x2 import f2x2_pays, winograd_f2x2_conv3x3

MIN_PIXELS = 32 * 32  # below this NNPACK is slower than oneDNN (its per-call kernel transform does not pay back)
MIN_CHANNELS = 16  # a conv from or to a few channels (the UNet's first and last) is faster direct
SMALL_MAP_PIXELS = 16  # up to this many pixels per image an fp32 weight is one product with the unfolded input
WIDE_MAP_PIXELS, WIDE_OUT_CHANNELS = 64, 1024  # ... and up to this many for a weight of this many outputs
# Input bytes per NNPACK call: its workspace (per thread, kept) grows with the input. 36 MiB keeps a 256² VAE
# decode's 128-channel full-resolution layers (33.8 MB padded) in one call: 3-4% faster than two strips.
STRIP_BYTES = 36 << 20

_enabled = True


def set_winograd(enabled: bool) -> None:
    """Use Winograd for eligible 3×3 convolutions (process-wide; the default) or always the direct one."""
    global _enabled
    _enabled = enabled


def winograd_available() -> bool:
    """Whether this torch build has NNPACK and the CPU runs it (AVX2 on x86; NEON on ARM)."""
    return torch.backends.nnpack.is_available()  # also initializes NNPACK, which its kernels need first


class WinogradConv2d(ChunkedCastConv2d):
    """An nn.Conv2d (same parameters and state dict) whose forward takes a Winograd kernel where that is faster
    (F(2×2, 3×3) also from a half-precision weight, cast a slice at a time as engine/chunked_cast does)."""

    def takes_half_weight(self, x: torch.Tensor) -> bool:
        return winograd_kernel(x, self.weight) is winograd_f2x2_conv3x3 or super().takes_half_weight(x)

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        kernel = winograd_kernel(x, weight)
        if kernel is None:
            return super()._conv_forward(x, weight, bias)
        return kernel(x, weight, bias)


def use_winograd(module: nn.Module) -> nn.Module:
    """Let every plain 3×3, stride-1, padding-1 nn.Conv2d in `module` take Winograd when eligible (in place:
    the class changes, the weights do not). Subclasses of nn.Conv2d keep their own forward."""
    for conv in module.modules():
        if type(conv) is nn.Conv2d and _winograd_shape(conv):
            conv.__class__ = WinogradConv2d
    return module


def _winograd_shape(conv: nn.Conv2d) -> bool:
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.dilation == (1, 1)
            and conv.groups == 1 and conv.padding == (1, 1) and conv.padding_mode == "zeros"
            and min(conv.in_channels, conv.out_channels) >= MIN_CHANNELS)


def winograd_kernel(x: torch.Tensor, weight: torch.Tensor) -> Callable | None:
    """The convolution faster than the direct one for this input and kernel, or None: NNPACK from 32×32 up
    (fp32 kernels only), F(2×2, 3×3) below where the batch and channels pay for its transforms, else on maps
    of at most SMALL_MAP_PIXELS, or WIDE_MAP_PIXELS for a wide kernel, the unfolded product (fp32 kernels only)."""
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    if not (_enabled and x.device.type == "cpu" and x.dtype == torch.float32 and weight.is_floating_point()
            and x.dim() == 4 and not needs_grad):
        return None
    pixels = x.shape[-2] * x.shape[-1]
    if pixels >= MIN_PIXELS:
        return winograd_conv3x3 if winograd_available() and weight.dtype == x.dtype else None
    if f2x2_pays(x, weight):
        return winograd_f2x2_conv3x3
    wide = weight.shape[0] >= WIDE_OUT_CHANNELS
    unfolded = pixels <= SMALL_MAP_PIXELS or (wide and pixels <= WIDE_MAP_PIXELS)
    return unfolded_conv3x3 if unfolded and weight.dtype == x.dtype else None


def unfolded_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """conv2d(x, weight, bias, padding=1) as one product of the weight with the unfolded 3×3 windows."""
    columns = F.unfold(x, 3, padding=1)
    return unfolded_product(columns, weight.reshape(weight.shape[0], -1), bias).view(x.shape[0], -1, *x.shape[-2:])


def winograd_conv3x3(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """conv2d(x, weight, bias, padding=1) for an [N, C, H, W] fp32 CPU tensor, by NNPACK: one image at a
    time (torch gives a batch to NNPACK's slower batched kernel), in strips of at most STRIP_BYTES."""
    channels, width = x.shape[1], x.shape[-1]
    weight = weight.contiguous()
    rows = max(8, STRIP_BYTES // (channels * (width + 2) * x.element_size()))
    images = [_one_image(x[i:i + 1].contiguous(), weight, bias, rows) for i in range(x.shape[0])]
    return images[0] if len(images) == 1 else torch.cat(images)


def _one_image(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, rows: int) -> torch.Tensor:
    height = x.shape[-2]
    if height <= rows:
        return torch._nnpack_spatial_convolution(x, weight, bias, [1, 1])
    strips = []
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        halo = (1, 1, int(top == 0), int(bottom == height))  # zero rows only at the image's own edges
        strip = F.pad(x[:, :, max(top - 1, 0):bottom + 1], halo)
        strips.append(torch._nnpack_spatial_convolution(strip, weight, bias, [0, 0]))
    return torch.cat(strips, dim=2)
