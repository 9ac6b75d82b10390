"""Half-precision weights computed in fp32 a slice of output channels at a time, on the CPU.

Manual cast (engine/memory_tiers.LayerStreamer) copies a layer's whole fp16/bf16 weight into an fp32 buffer
before its forward, and the product then reads that buffer back: 10 bytes of memory traffic per weight. Most
of SD1.5's UNet weights sit in its 1280-channel layers, which at 256² see 8×8 and 4×4 feature maps: there
the cast took about as long as the product (5-10% of a 256² CFG step on a 2-core AVX2 Zen 1). These layers instead cast
CHUNK_BYTES of output channels and multiply them at once, while the slice is still in the CPU's cache: 2
bytes of traffic per weight. The results are the whole cast's within fp32 rounding (the same fp32 weights;
the products are blocked differently: 1.6e-5 on a UNet output of scale 2.25).

Which way is faster depends on the CPU: on a 2-core AVX-512 Zen 5 the whole cast (into the streamer's
reused buffer) took 0.93x the sliced one's time for a 256² CFG step (benchmarks/manual_cast.py: 1.456 against
1.559 s; fp32 weights 1.278 s). So each eligible layer shape is timed both ways on its first call and keeps the
faster (engine/kernel_timing.py): 1.447 s there, against 1.514 s cast whole and 1.305 s with fp32 weights.

A convolution takes this path only on a small feature map (4×4 in a CFG batch at 256²), as the product of
each weight slice with its unfolded input windows: output channels as rows, the batch's images side by side
as columns (the windows times the transposed slice, as before, took 1.4-1.5x as long for the 1280- and
2560-channel layers at 4×4; a 256² CFG step of SD1.5 with fp16 weights took 3.2% less time with this order;
one product for the batch instead of one per image measured the same there, and 0.96-1.0x for an 8×8
layer's whole fp32 weight in engine/winograd.py). F(2×2, 3×3) (engine/winograd.py, the 16² maps) casts its
own kernel chunks into the same buffer; on larger maps the whole weight is cast.

`unfolded_product` (whole for an fp32 weight) also serves engine/winograd.py's 3×3 convolutions of small maps.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from engine import kernel_timing, onednn_linear

CHUNK_BYTES = 2 << 20  # fp32 weight slice per product: stays in the L2/L3 cache between its cast and its use
# A weight with fewer elements than this many times its input is cast whole: with a large input (the 64×64
# layers at 512²) each slice's product re-reads the input, which costs more than the cast saves.
MIN_WEIGHT_RATIO = 4
COLUMNS_BYTES = 4 << 20  # a convolution's unfolded input at most: each slice's product reads it from cache

_held = threading.local()
_enabled = True


def set_chunked_cast(enabled: bool) -> None:
    """Cast heavy layers slice by slice (process-wide; the default) or every layer whole, as before."""
    global _enabled
    _enabled = enabled


class ChunkedCastLinear(nn.Linear):
    """nn.Linear that computes from a half weight slice by slice where `casts_in_chunks` says so (the test the
    streamer made before leaving the weight uncast), else as engine/onednn_linear.linear (F.linear, by oneDNN
    for fp32 on the CPU)."""

    def takes_half_weight(self, x: torch.Tensor) -> bool:
        return True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not casts_in_chunks(self, x):
            return onednn_linear.linear(x, self.weight, self.bias)
        return linear(x, self.weight, self.bias)


class ChunkedCastConv2d(nn.Conv2d):
    """nn.Conv2d that computes from a half weight slice by slice where `casts_in_chunks` says so, as the product
    of the weight with its unfolded input windows, else as nn.Conv2d."""

    def takes_half_weight(self, x: torch.Tensor) -> bool:
        if self.groups != 1 or self.padding_mode != "zeros" or isinstance(self.padding, str) or x.dim() != 4:
            return False
        height, width = self._out_size(x)
        columns = x.shape[0] * height * width * self.weight[0].numel() * x.element_size()
        return columns <= COLUMNS_BYTES

    def _out_size(self, x: torch.Tensor) -> tuple[int, int]:
        return tuple((size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1 for size, pad, dilation, kernel, stride
                     in zip(x.shape[-2:], self.padding, self.dilation, self.kernel_size, self.stride))

    def _conv_forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        if weight is not self.weight or not casts_in_chunks(self, x):
            return super()._conv_forward(x, weight, bias)
        batch, height, width = x.shape[0], *self._out_size(x)
        columns = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)  # [batch, in·k·k, pixels]
        out = unfolded_product(columns, weight.reshape(weight.shape[0], -1), bias)
        return out.view(batch, -1, height, width)


def chunked_cast_layers(module: nn.Module) -> nn.Module:
    """Let every plain nn.Linear and nn.Conv2d in `module` compute from half weights slice by slice (in place:
    the class changes, the weights do not; where `casts_in_chunks` says no, a layer runs as before)."""
    for layer in module.modules():
        if type(layer) is nn.Linear:
            layer.__class__ = ChunkedCastLinear
        elif type(layer) is nn.Conv2d:
            layer.__class__ = ChunkedCastConv2d
    return module


def casts_in_chunks(layer: nn.Module, x: object) -> bool:
    """Whether `layer` should keep its stored weight and cast it slice by slice for input `x`: a capable layer
    on the CPU whose weight is large against the input, where this machine ran it faster that way than from the
    weight cast whole (timed once per shape, engine/kernel_timing.py)."""
    if not (_enabled and isinstance(layer, (ChunkedCastLinear, ChunkedCastConv2d)) and isinstance(x, torch.Tensor)):
        return False
    weight = layer.weight
    if not (not records_grad(layer, (x,)) and x.device.type == "cpu" and weight.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype in (torch.float16, torch.bfloat16) and weight.numel() >= MIN_WEIGHT_RATIO * x.numel() and layer.takes_half_weight(x)):
        return False
    forced = getattr(_held, "forced", None)
    if forced is not None:  # this very choice is being timed
        return forced
    key = kernel_timing.shape_key(f"cast {type(layer).__name__}", x, weight)
    return kernel_timing.fastest(key, partial(_cast_runs, layer, x)) == "sliced"


def _cast_runs(layer: ChunkedCastLinear | ChunkedCastConv2d, x: torch.Tensor) -> dict[str, Callable[[], object]]:
    """The layer's product both ways on this input: from its half weight slice by slice, and from the weight
    copied whole into an fp32 buffer first (a buffer already written, as the streamer's scratch is)."""
    whole = layer.weight.to(x.dtype)
    bias = None if layer.bias is None else layer.bias.to(x.dtype)

    def cast_whole() -> object:
        return _forced_call(layer, x, whole.copy_(layer.weight), bias, sliced=False)

    return {"sliced": partial(_forced_call, layer, x, layer.weight, layer.bias, sliced=True), "whole": cast_whole}


def _forced_call(layer: nn.Module, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 sliced: bool) -> object:
    _held.forced = sliced
    try:
        if isinstance(layer, ChunkedCastLinear):
            return linear(x, weight, bias) if sliced else onednn_linear.linear(x, weight, bias)
        return layer._conv_forward(x, weight, bias)
    finally:
        _held.forced = None


def records_grad(layer: nn.Module, inputs: tuple) -> bool:
    """Whether autograd records this call of `layer`: it keeps the weight copies the layer computes from until
    backward, so they must not share a buffer that the next layer or slice overwrites."""
    tensors = (*inputs, *layer._parameters.values())
    return torch.is_grad_enabled() and any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors)


def slices(weight: torch.Tensor, bias: torch.Tensor | None,
           dtype: torch.dtype) -> Iterator[tuple[int, torch.Tensor, torch.Tensor | None]]:
    """(first output channel, weight slice, bias slice) in `dtype`, each slice CHUNK_BYTES at most (use each
    before taking the next: they share one buffer)."""
    per_channel = weight[0].numel()
    count = max(1, CHUNK_BYTES // (per_channel * torch.empty((), dtype=dtype).element_size()))
    for first in range(0, weight.shape[0], count):
        last = min(first + count, weight.shape[0])
        yield first, cast_slice(weight[first:last], dtype), None if bias is None else bias[first:last].to(dtype)


def cast_slice(weight: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """`weight` in `dtype`, written into this thread's reused slice buffer (a fresh tensor per slice faults its
    pages in again every time, which measured slower than the whole cast); valid until the next slice."""
    if weight.dtype == dtype:
        return weight
    held = getattr(_held, "buffer", None)
    if (held is None or held.numel() < weight.numel() or held.dtype != dtype or held.device != weight.device
            or held.is_inference() != torch.is_inference_mode_enabled()):  # one made in inference mode is read-only outside
        held = _held.buffer = torch.empty(weight.numel(), dtype=dtype, device=weight.device)
    return held[:weight.numel()].view(weight.shape).copy_(weight)


def unfolded_product(columns: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """weight.to(columns.dtype) @ columns (+ bias per row) for unfolded windows [batch, K, pixels] and a weight
    [out, K]: [batch, out, pixels]; a half weight is cast one slice of output channels at a time. The images
    of the batch sit side by side as the columns of one product: [out, K] × [K, batch·pixels]."""
    batch, depth, pixels = columns.shape
    flat = columns[0] if batch == 1 else columns.transpose(0, 1).reshape(depth, batch * pixels)
    out = torch.empty(weight.shape[0], batch * pixels, dtype=columns.dtype, device=columns.device)
    whole = weight.dtype == columns.dtype
    for first, part, part_bias in [(0, weight, bias)] if whole else slices(weight, bias, columns.dtype):
        rows = out[first:first + part.shape[0]]
        if part_bias is None:
            torch.mm(part, flat, out=rows)
        else:
            torch.addmm(part_bias.view(-1, 1), part, flat, out=rows)
    return out.view(1, -1, pixels) if batch == 1 else out.view(-1, batch, pixels).transpose(0, 1).contiguous()


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """F.linear(x, weight.to(x.dtype), bias) with the weight cast one slice of output features at a time, each
    product written straight into its columns of the output."""
    rows = x.reshape(-1, x.shape[-1])
    out = torch.empty(rows.shape[0], weight.shape[0], dtype=x.dtype, device=x.device)
    for first, part, part_bias in slices(weight, bias, x.dtype):
        columns = out[:, first:first + part.shape[0]]
        if part_bias is None:
            torch.mm(rows, part.t(), out=columns)
        else:
            torch.addmm(part_bias, rows, part.t(), out=columns)
    return out.view(*x.shape[:-1], weight.shape[0])

