"""fp32 linear layers through oneDNN (engine/onednn_linear.py): F.linear's result within fp32 rounding, taken by the
layers of every model the manager loads, and not where it cannot serve (autograd, half precision) or where
--no-onednn-linear asks for F.linear (then bit for bit)."""

import argparse

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import onednn_linear
from launch.compute_flags import add_compute_arguments, manager_from_args
from tests.fixtures.convolutions import record_calls

pytestmark = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this torch build has no oneDNN")


@pytest.fixture
def onednn_calls(monkeypatch):
    """(input shape, weight shape) of every oneDNN linear call (the real kernel still runs); flag reset after."""
    yield record_calls(monkeypatch, torch.ops.mkldnn, "_linear_pointwise",
                       lambda x, weight, *_: (tuple(x.shape), tuple(weight.shape)))
    onednn_linear.set_onednn_linear(True)


def _case(rows: tuple[int, ...], k: int, n: int, bias: bool):
    gen = torch.Generator().manual_seed(k + n)
    x = torch.randn(*rows, k, generator=gen)
    weight = torch.randn(n, k, generator=gen) * k ** -0.5
    return x, weight, torch.randn(n, generator=gen) if bias else None


@pytest.mark.parametrize("rows, k, n, bias", [((2, 1024), 320, 2560, True), ((128,), 1280, 1280, False),
                                              ((2, 3, 77), 768, 320, True), ((5,), 8, 16, True)])
def test_matches_f_linear_within_fp32_rounding(onednn_calls, rows, k, n, bias):
    x, weight, b = _case(rows, k, n, bias)
    exact = F.linear(x.double(), weight.double(), None if b is None else b.double())
    fast = onednn_linear.linear(x, weight, b)
    assert onednn_calls == [((*rows, k), (n, k))]
    assert fast.shape == exact.shape and fast.dtype == torch.float32
    reference_error = (F.linear(x, weight, b).double() - exact).abs().max()
    assert (fast.double() - exact).abs().max() <= max(4 * reference_error, 1e-6)


def test_autograd_half_precision_and_the_flag_take_f_linear(onednn_calls):
    x, weight, bias = _case((4,), 16, 8, True)
    weight.requires_grad_(True)
    out = onednn_linear.linear(x, weight, bias)
    out.sum().backward()  # oneDNN's op has no backward: a recorded call must not take it
    torch.testing.assert_close(weight.grad, x.sum(0).expand(8, 16), rtol=0, atol=1e-6)
    half = onednn_linear.linear(x.half(), weight.detach().half(), bias.half())
    assert half.dtype == torch.float16
    onednn_linear.set_onednn_linear(False)
    assert torch.equal(onednn_linear.linear(x, weight.detach(), bias), F.linear(x, weight.detach(), bias))
    assert onednn_calls == []


def _manager_output(flags: list[str]) -> torch.Tensor:
    """A small MLP held by a manager built from the command-line flags, called on a fixed input."""
    parser = argparse.ArgumentParser()
    add_compute_arguments(parser)
    manager = manager_from_args(parser.parse_args(["--cpu", *flags]))
    torch.manual_seed(0)

    def build():
        return nn.Sequential(nn.Linear(64, 128), nn.GELU(), nn.Linear(128, 32, bias=False))

    weights = build().state_dict()
    handle = manager.handle("mlp", name="mlp", build=build, state_dict=lambda: weights)
    x = torch.randn(2, 10, 64, generator=torch.Generator().manual_seed(1))
    with manager.use(handle) as mlp, torch.inference_mode():
        return mlp(x), F.linear(F.gelu(F.linear(x, weights["0.weight"], weights["0.bias"])), weights["2.weight"])


def test_a_loaded_model_s_linear_layers_take_onednn_unless_the_flag_says_no(onednn_calls):
    fast, reference = _manager_output([])
    assert onednn_calls == [((2, 10, 64), (128, 64)), ((2, 10, 128), (32, 128))]
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-6)
    onednn_calls.clear()
    plain, reference = _manager_output(["--no-onednn-linear"])
    assert onednn_calls == []
    assert torch.equal(plain, reference)
