"""Half-precision weights cast a slice at a time inside a layer's own product (engine/chunked_cast.py): the
whole-cast result within fp32 rounding, for every slicing, and taken under manual cast only where it pays,
so the streamer's whole-layer scratch copy is not made for those layers."""

import threading

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import chunked_cast
from engine.chunked_cast import ChunkedCastConv2d, ChunkedCastLinear, chunked_cast_layers
from engine.memory_tiers import LayerStreamer
from engine.winograd import WinogradConv2d, use_winograd
from tests.fixtures.convolutions import conv_case, prefer


@pytest.fixture(autouse=True)
def sliced(monkeypatch):
    """Slice by slice wherever a layer can (F(2×2) where a 3×3 one can), not as timed on this machine:
    these tests hold that path to the upcast weights' results (tests/models/test_kernel_timing.py: the timing)."""
    prefer(monkeypatch, "sliced", "f2x2")


def _half(module: nn.Module) -> nn.Module:
    """`module` with fp16 weights (its fp32 twin, upcast from them, is the oracle)."""
    return module.eval().requires_grad_(False).half()


def _close(fast: torch.Tensor, exact: torch.Tensor) -> None:
    assert fast.shape == exact.shape and fast.dtype == torch.float32
    assert (fast.double() - exact).abs().max().item() <= 1e-5 * exact.abs().max().item()


@pytest.mark.parametrize("shape, out_features, bias, chunk_bytes", [
    ((2, 77, 96), 200, True, 16 * 96 * 4),  # 13 slices of 16 features, a short last one
    ((5, 64), 48, False, chunked_cast.CHUNK_BYTES),  # one slice, no bias
    ((3, 40), 7, True, 1),  # a slice per output feature
])
def test_linear_from_half_weights_matches_the_upcast_weights(monkeypatch, shape, out_features, bias, chunk_bytes):
    monkeypatch.setattr(chunked_cast, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(chunked_cast, "MIN_WEIGHT_RATIO", 0)  # slice whatever the input
    torch.manual_seed(0)
    layer = _half(chunked_cast_layers(nn.Linear(shape[-1], out_features, bias=bias)))
    x = torch.randn(shape)
    exact = F.linear(x.double(), layer.weight.double(), None if layer.bias is None else layer.bias.double())
    _close(layer(x), exact)


@pytest.mark.parametrize("kernel, stride, padding, dilation", [(3, 1, 1, 1), (1, 1, 0, 1), (3, 2, 1, 1), (3, 1, 2, 2)])
def test_convolution_from_half_weights_matches_the_upcast_weights(monkeypatch, kernel, stride, padding, dilation):
    monkeypatch.setattr(chunked_cast, "CHUNK_BYTES", 16 * 24 * kernel * kernel * 4)
    monkeypatch.setattr(chunked_cast, "MIN_WEIGHT_RATIO", 0)
    torch.manual_seed(0)
    layer = _half(chunked_cast_layers(nn.Conv2d(24, 40, kernel, stride, padding, dilation)))
    assert type(layer) is ChunkedCastConv2d
    x = torch.randn(2, 24, 7, 6)
    exact = F.conv2d(x.double(), layer.weight.double(), layer.bias.double(), stride, padding, dilation)
    fast = layer(x)
    _close(fast, exact)
    assert fast.is_contiguous()


def test_winograd_f2x2_from_half_weights_matches_the_upcast_weights(monkeypatch):
    from engine import winograd_f2x2

    monkeypatch.setattr(winograd_f2x2, "CHUNK_BYTES", 16 * 64 * 256)  # several kernel chunks
    x, weight, bias = conv_case(2, 256, 272, 16, 16)
    layer = use_winograd(_half(nn.Conv2d(256, 272, 3, padding=1)))
    layer.weight.copy_(weight)
    layer.bias.copy_(bias)
    assert type(layer) is WinogradConv2d and layer.takes_half_weight(x)
    exact = F.conv2d(x.double(), layer.weight.double(), layer.bias.double(), padding=1)
    _close(layer(x), exact)


def test_two_threads_slicing_at_once_keep_their_own_buffers(monkeypatch):
    monkeypatch.setattr(chunked_cast, "CHUNK_BYTES", 16 * 256 * 4)
    torch.manual_seed(0)
    layers = [_half(chunked_cast_layers(nn.Linear(256, 512))) for _ in range(2)]
    inputs = [torch.randn(8, 256) for _ in range(2)]
    expected = [F.linear(x, layer.weight.float(), layer.bias.float()) for layer, x in zip(layers, inputs)]
    results: list[list[torch.Tensor]] = [[], []]

    def work(index: int) -> None:
        for _ in range(30):
            results[index].append(layers[index](inputs[index]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outputs, exact in zip(results, expected):
        for out in outputs:
            torch.testing.assert_close(out, exact, rtol=1e-5, atol=1e-5)


class _Block(nn.Module):
    """A wide projection of a few tokens, then a convolution of a small map: weights far larger than inputs."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(64, 512)
        self.conv = nn.Conv2d(32, 64, 3, padding=1)

    def forward(self, x):
        return self.conv(self.proj(x).view(-1, 32, 4, 4))


def _streamed(module: nn.Module) -> tuple[nn.Module, LayerStreamer]:
    streamer = LayerStreamer(module, torch.device("cpu"), torch.device("cpu"), 1 << 40, compute_dtype=torch.float32)
    return module, streamer


def _streamed_block() -> tuple[nn.Module, LayerStreamer]:
    """A streamed fp16 _Block whose output on a few tokens is checked against its upcast twin's."""
    torch.manual_seed(0)
    reference = _Block().eval().requires_grad_(False).half().float()
    half, streamer = _streamed(_half(_Block()))
    half.load_state_dict({k: v.half() for k, v in reference.state_dict().items()})
    x = torch.randn(2, 64)
    with torch.inference_mode():
        torch.testing.assert_close(half(x), reference(x), rtol=1e-5, atol=1e-5)
    return half, streamer


def test_manual_cast_of_heavy_layers_never_copies_a_whole_weight():
    """Tokens few against the weights: both layers compute from their fp16 weights, the streamer's scratch
    buffer for a whole layer's fp32 copy is never allocated, and the result is the upcast model's."""
    half, streamer = _streamed_block()
    assert streamer._scratch is None
    assert type(half.proj) is ChunkedCastLinear and {p.dtype for p in half.parameters()} == {torch.float16}


def test_heavy_layers_timed_faster_from_a_whole_cast_take_the_streamers_copy(monkeypatch):
    """Where this machine ran the whole cast faster, the same layers take the streamer's fp32 copy: the scratch
    buffer is written, the result is the upcast model's, and the model still holds fp16."""
    prefer(monkeypatch, "whole")
    half, streamer = _streamed_block()
    assert streamer._scratch is not None
    assert {p.dtype for p in half.parameters()} == {torch.float16}


def test_manual_cast_of_a_light_layer_casts_it_whole_as_before():
    """Many tokens against a small weight: the whole-layer cast (exactly the upcast model's result)."""
    torch.manual_seed(0)
    reference = nn.Linear(16, 16).eval().requires_grad_(False).half().float()
    half, streamer = _streamed(_half(nn.Linear(16, 16)))
    half.load_state_dict({k: v.half() for k, v in reference.state_dict().items()})
    x = torch.randn(64, 16)
    with torch.inference_mode():
        assert torch.equal(half(x), reference(x))
    assert streamer._scratch is not None


def test_a_layer_runs_outside_inference_mode_after_running_inside_it():
    """The reused slice buffer made under torch.inference_mode is not written to outside it (torch forbids it)."""
    torch.manual_seed(0)
    layer = _half(chunked_cast_layers(nn.Linear(64, 96)))
    x = torch.randn(3, 64)
    expected = F.linear(x, layer.weight.float(), layer.bias.float())
    results = []

    def work() -> None:  # a thread of its own: its first slice buffer is made in inference mode
        with torch.inference_mode():
            results.append(layer(x))
        with torch.no_grad():
            results.append(layer(x))
        results.append(layer(x))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(results) == 3
    for out in results:
        torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)


def test_training_through_manual_cast_casts_whole_and_gets_the_upcast_gradients():
    """An input that needs gradients (a LoRA being trained upstream) takes the whole cast, into fresh copies:
    the scratch buffer the next layer overwrites would corrupt the copy autograd keeps for backward."""
    torch.manual_seed(0)
    reference = _Block().eval().requires_grad_(False).half().float()
    half, _streamer = _streamed(_half(_Block()))
    half.load_state_dict({k: v.half() for k, v in reference.state_dict().items()})
    x = torch.randn(2, 64, requires_grad=True)
    x_reference = x.detach().clone().requires_grad_(True)
    half(x).square().sum().backward()
    reference(x_reference).square().sum().backward()
    torch.testing.assert_close(x.grad, x_reference.grad, rtol=1e-5, atol=1e-5)


def test_with_gradients_on_but_none_needed_the_scratch_buffer_is_still_reused():
    """A plain call (grad mode on, no tensor requiring gradients) records nothing, so the cast reuses the
    scratch buffer rather than allocating a copy per layer and call."""
    half, streamer = _streamed(_half(nn.Linear(16, 16)))
    assert torch.is_grad_enabled()
    half(torch.randn(64, 16))
    assert streamer._scratch is not None
