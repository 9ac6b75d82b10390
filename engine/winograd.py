"""3×3 convolutions on the CPU by Winograd transforms or, on small maps, one matrix product, where those beat
oneDNN's direct ones on this machine.

torch's CPU convolution (oneDNN) multiplies every 3×3 window out; a Winograd transform gets the same result
from fewer multiplications. NNPACK's F(6×6, 3×3) kernels (about a quarter of the multiplications) ship inside
torch, which routes a convolution there only at batch 16 and more, so Loom calls them itself, one image at a
time (NNPACK's batch-1 inference kernel: its batched one measured slower than oneDNN). NNPACK transforms the
kernel on every call, which maps under 32×32 never paid back; there Loom's own F(2×2, 3×3)
(engine/winograd_f2x2.py) can serve wide layers, and on maps of 8×8 and less one matrix product of the weight
with the unfolded input windows (engine/chunked_cast.unfolded_product; oneDNN lays the weight out anew on
every call, which at 4×4 costs it more than its product).

Which of them wins depends on the CPU (engine/kernel_timing.py): on a 2-core AVX2 Zen 1, NNPACK took 0.3-0.7x
oneDNN's time for the SD VAE's and UNet's 3×3 convolutions at 32×32 and more, F(2×2) 0.64-0.87x for the UNet's
at 16², the unfolded product 0.5-0.85x at 4×4; on a 2-core AVX-512 Zen 5, NNPACK took 1.4-1.5x oneDNN's time at
32×32 and 0.58-0.96x at 64×64 and more, F(2×2) 1.3-1.8x at 16² but for 1,280 channels (0.88-0.94x)
(benchmarks/winograd_conv.py). So each shape up to 64×64 takes the kernel measured fastest on its first call; larger ones NNPACK.

The transforms round differently: NNPACK's outputs differ from the direct convolution by about 1e-4 of their
scale (tests/models/test_winograd.py), far below one 8-bit pixel level. `--no-winograd` turns all three off
for results bit-identical to the direct convolution.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from engine import kernel_timing
from engine.chunked_cast import ChunkedCastConv2d, unfolded_product
from engine.winograd_f2x2 import f2x2_pays, winograd_f2x2_conv3x3

MIN_PIXELS = 32 * 32  # NNPACK is timed from here up (below, its per-call kernel transform never paid back)
MIN_CHANNELS = 16  # a conv from or to a few channels (the UNet's first and last) is faster direct
# Beyond this NNPACK is taken untimed: 0.3-0.85x oneDNN's time from 128×128 up on both CPUs measured, and timing
# the VAE decoder's 128² to 1024² layers would cost seconds and hold two layers' outputs at once.
TIMED_PIXELS = 64 * 64
WIDE_MAP_PIXELS = 64  # the unfolded product is timed up to this many pixels per image (8×8)
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
    """The kernel for this input and kernel, or None for the direct one: of those that can serve the shape
    (`candidates`), the one engine/kernel_timing measured fastest here. NNPACK and the unfolded product take an
    fp32 weight: for a half one they answer None, and the streamer casts the weight whole for them."""
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)
    if not (_enabled and x.device.type == "cpu" and x.dtype == torch.float32 and weight.is_floating_point()
            and x.dim() == 4 and not needs_grad):
        return None
    kernels = candidates(x, weight)
    if len(kernels) == 1:
        kernel = next(iter(kernels.values()))
    else:
        key = kernel_timing.shape_key("conv3x3", x, weight)
        kernel = kernels.get(kernel_timing.fastest(key, partial(_timed_runs, kernels, x, weight)))
    takes_half = kernel is None or kernel is winograd_f2x2_conv3x3
    return kernel if takes_half or weight.dtype == x.dtype else None


def candidates(x: torch.Tensor, weight: torch.Tensor) -> dict[str, Callable | None]:
    """The kernels worth timing for this [N, C, H, W] input (named; None is the direct convolution): NNPACK
    from MIN_PIXELS up (below, its per-call kernel transform never paid on the CPUs measured), F(2×2, 3×3) up
    to MIN_PIXELS where it has the tiles and channels to pay, the unfolded product up to WIDE_MAP_PIXELS.
    Beyond TIMED_PIXELS NNPACK alone, untimed."""
    pixels = x.shape[-2] * x.shape[-1]
    if pixels > TIMED_PIXELS and winograd_available():
        return {"nnpack": winograd_conv3x3}
    kernels: dict[str, Callable | None] = {"direct": None}
    if pixels >= MIN_PIXELS and winograd_available():
        kernels["nnpack"] = winograd_conv3x3
    if pixels <= MIN_PIXELS and f2x2_pays(x, weight):
        kernels["f2x2"] = winograd_f2x2_conv3x3
    if pixels <= WIDE_MAP_PIXELS:
        kernels["unfolded"] = unfolded_conv3x3
    return kernels


def _timed_runs(kernels: dict[str, Callable | None], x: torch.Tensor, weight: torch.Tensor) -> dict[str, Callable]:
    """Each kernel's call on this input (F(2×2) from the weight as held; the others from it cast whole, once)."""
    whole = weight.to(x.dtype)
    return {name: partial(winograd_f2x2_conv3x3, x, weight, None) if kernel is winograd_f2x2_conv3x3
            else partial(F.conv2d, x, whole, padding=1) if kernel is None else partial(kernel, x, whole, None)
            for name, kernel in kernels.items()}


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
