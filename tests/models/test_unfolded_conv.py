"""3×3 convolutions of the smallest maps from fp32 weights (engine/winograd.py): one product of the weight with
the unfolded input windows (4×4 and less; 8×8 for a weight of 1,024 outputs or more), the direct convolution's
result within fp32 rounding; any other map, autograd and --no-winograd keep torch's own convolution, bit for
bit."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import winograd
from tests.fixtures.convolutions import exact_conv, record_calls


@pytest.fixture
def products(monkeypatch):
    """The unfolded windows' shape of every unfolded product (the real one still runs); the flag is reset
    afterwards."""
    yield record_calls(monkeypatch, winograd, "unfolded_product", lambda columns, *_: tuple(columns.shape))
    winograd.set_winograd(True)


@pytest.mark.parametrize("batch, side, out_channels, bias",
                         [(2, 4, 96, True), (1, 3, 96, False), (3, 2, 96, True), (2, 8, 1024, True), (1, 8, 1024, False)])
def test_a_small_map_is_the_unfolded_product_within_fp32_rounding(products, batch, side, out_channels, bias):
    torch.manual_seed(0)
    conv = winograd.use_winograd(nn.Sequential(nn.Conv2d(64, out_channels, 3, padding=1, bias=bias)))[0]
    x = torch.randn(batch, 64, side, side)
    with torch.inference_mode():
        fast = conv(x)
    exact = exact_conv(x, conv.weight, conv.bias)
    assert fast.shape == exact.shape and fast.is_contiguous()
    assert (fast.double() - exact).abs().max().item() <= 1e-5 * exact.abs().max().item()
    assert products == [(batch, 64 * 9, side * side)]


def test_larger_maps_autograd_and_the_flag_take_the_direct_convolution(products):
    torch.manual_seed(0)
    conv = winograd.use_winograd(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1)))[0]
    wide = winograd.use_winograd(nn.Sequential(nn.Conv2d(16, 1024, 3, padding=1)))[0]
    small, larger = torch.randn(2, 64, 4, 4), torch.randn(2, 64, 5, 4)  # 16 pixels; 20
    with torch.no_grad():
        assert torch.equal(conv(larger), F.conv2d(larger, conv.weight, conv.bias, padding=1))
        eight = torch.randn(2, 64, 8, 8)  # 8×8 pays for a wide weight only, and no larger map does
        assert torch.equal(conv(eight), F.conv2d(eight, conv.weight, conv.bias, padding=1))
        beyond = torch.randn(2, 16, 9, 8)
        assert torch.equal(wide(beyond), F.conv2d(beyond, wide.weight, wide.bias, padding=1))
        winograd.set_winograd(False)
        assert torch.equal(conv(small), F.conv2d(small, conv.weight, conv.bias, padding=1))
    winograd.set_winograd(True)
    small.requires_grad_()
    conv(small).square().sum().backward()  # training: torch's convolution and its backward
    expected = torch.autograd.grad(F.conv2d(small, conv.weight, conv.bias, padding=1).square().sum(), small)[0]
    assert torch.equal(small.grad, expected)
    assert products == []


def test_a_half_weight_on_a_small_map_is_left_to_manual_cast():
    """The streamer decides how a half weight is cast (engine/chunked_cast.py); this path takes fp32 weights."""
    conv = winograd.use_winograd(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1)))[0].requires_grad_(False)
    x = torch.randn(2, 64, 4, 4)
    assert winograd.winograd_kernel(x, conv.weight) is winograd.unfolded_conv3x3
    assert winograd.winograd_kernel(x, conv.weight.half()) is None
