"""3×3 convolutions of the smallest maps from fp32 weights (engine/winograd.py): one product of the weight with
the unfolded input windows (maps of 8×8 and less, where it was timed fastest), the direct convolution's result
within fp32 rounding; larger maps, autograd and --no-winograd keep torch's own convolution, bit for bit."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import winograd
from tests.fixtures.convolutions import exact_conv, prefer, record_calls


@pytest.fixture
def products(monkeypatch):
    """The unfolded windows' shape of every unfolded product (the real one still runs), the unfolded product
    ranked fastest wherever it can serve; the flag is reset afterwards."""
    prefer(monkeypatch, "unfolded")
    yield record_calls(monkeypatch, winograd, "unfolded_product", lambda columns, *_: tuple(columns.shape))
    winograd.set_winograd(True)


@pytest.mark.parametrize("batch, side, out_channels, bias",
                         [(2, 4, 96, True), (1, 3, 96, False), (3, 2, 96, True), (2, 8, 1024, True), (1, 8, 1024, False),
                          (2, 8, 64, True)])
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
    small = torch.randn(2, 64, 4, 4)
    with torch.no_grad():
        for layer, beyond in ((conv, torch.randn(2, 64, 9, 8)), (wide, torch.randn(1, 16, 3, 22))):  # 72 and 66 pixels
            assert torch.equal(layer(beyond), F.conv2d(beyond, layer.weight, layer.bias, padding=1))
        winograd.set_winograd(False)
        assert torch.equal(conv(small), F.conv2d(small, conv.weight, conv.bias, padding=1))
    winograd.set_winograd(True)
    small.requires_grad_()
    conv(small).square().sum().backward()  # training: torch's convolution and its backward
    expected = torch.autograd.grad(F.conv2d(small, conv.weight, conv.bias, padding=1).square().sum(), small)[0]
    assert torch.equal(small.grad, expected)
    assert products == []


def test_a_half_weight_on_a_small_map_is_left_to_manual_cast(monkeypatch):
    """The streamer decides how a half weight is cast (engine/chunked_cast.py); this path takes fp32 weights."""
    prefer(monkeypatch, "unfolded")
    conv = winograd.use_winograd(nn.Sequential(nn.Conv2d(64, 64, 3, padding=1)))[0].requires_grad_(False)
    x = torch.randn(2, 64, 4, 4)
    assert winograd.winograd_kernel(x, conv.weight) is winograd.unfolded_conv3x3
    assert winograd.winograd_kernel(x, conv.weight.half()) is None
