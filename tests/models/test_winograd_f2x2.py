"""Loom's F(2×2, 3×3) Winograd convolution (engine/winograd_f2x2.py): the direct convolution's result within
fp32 rounding, in every chunking of the kernel and grouping of the batch, and taken only where it can pay."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import winograd, winograd_f2x2
from engine.winograd_f2x2 import winograd_f2x2_conv3x3
from tests.fixtures.convolutions import conv_case, exact_conv, prefer, record_calls


@pytest.mark.parametrize("shape, chunk_bytes, transform_bytes, with_bias", [
    ((2, 256, 272, 16, 16), winograd_f2x2.CHUNK_BYTES, winograd_f2x2.TRANSFORM_BYTES, True),
    ((3, 40, 72, 15, 13), 16 * 64 * 40, 4 * 40 * 15 * 13 * 4, False),  # odd sides; 16-channel chunks, 1 image each
    ((1, 24, 50, 1, 7), 16 * 64 * 24, winograd_f2x2.TRANSFORM_BYTES, True),  # one row; a short last chunk
    ((4, 16, 40, 16, 16), 16 * 64 * 256, winograd_f2x2.TRANSFORM_BYTES, True),  # 256 tiles bound the chunks
])
def test_matches_the_direct_convolution_within_fp32_rounding(monkeypatch, shape, chunk_bytes,
                                                             transform_bytes, with_bias):
    monkeypatch.setattr(winograd_f2x2, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(winograd_f2x2, "TRANSFORM_BYTES", transform_bytes)
    x, weight, bias = conv_case(*shape)
    bias = bias if with_bias else None
    exact = exact_conv(x, weight, bias)
    fast = winograd_f2x2_conv3x3(x, weight, bias)
    assert fast.shape == exact.shape and fast.dtype == torch.float32 and fast.is_contiguous()
    assert (fast.double() - exact).abs().max().item() <= 1e-5 * exact.abs().max().item()


def test_a_one_hot_input_reaches_the_3x3_neighbourhood_across_tile_edges():
    """A single pixel on a 2×2 tile's corner spreads to the nine outputs around it and nowhere else."""
    x = torch.zeros(1, 8, 6, 6)
    x[0, :, 2, 3] = 1.0
    out = winograd_f2x2_conv3x3(x, torch.ones(4, 8, 3, 3), None)
    touched = (out[0, 0].abs() > 1e-4).nonzero().tolist()
    assert touched == [[r, c] for r in (1, 2, 3) for c in (2, 3, 4)]
    torch.testing.assert_close(out[0, :, 1:4, 2:5], torch.full((4, 3, 3), 8.0))


@pytest.fixture
def f2x2_calls(monkeypatch):
    """Input shapes of every F(2×2, 3×3) call (the real kernel still runs); the flag is reset afterwards."""
    yield record_calls(monkeypatch, winograd, "winograd_f2x2_conv3x3", lambda x, *_: tuple(x.shape))
    winograd.set_winograd(True)


def test_a_wide_layer_at_16x16_takes_f2x2_and_the_rest_stay_direct(monkeypatch, f2x2_calls):
    prefer(monkeypatch, "f2x2")
    wide = winograd.use_winograd(nn.Sequential(nn.Conv2d(256, 256, 3, padding=1)))[0]
    thin = winograd.use_winograd(nn.Sequential(nn.Conv2d(128, 128, 3, padding=1)))[0]
    cfg_pair, few_tiles = torch.randn(2, 256, 16, 16), torch.randn(2, 256, 8, 8)  # 128 tiles; 32 tiles
    with torch.no_grad():
        exact = exact_conv(cfg_pair, wide.weight, wide.bias)
        assert (wide(cfg_pair).double() - exact).abs().max().item() <= 1e-5 * exact.abs().max().item()
        assert f2x2_calls == [(2, 256, 16, 16)]
        for conv, x in ((wide, few_tiles), (thin, torch.randn(2, 128, 16, 16))):
            assert torch.equal(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=1))
        winograd.set_winograd(False)
        assert torch.equal(wide(cfg_pair), F.conv2d(cfg_pair, wide.weight, wide.bias, padding=1))
    winograd.set_winograd(True)
    wide(cfg_pair.requires_grad_()).sum().backward()  # training takes the direct convolution and its backward
    assert len(f2x2_calls) == 1 and cfg_pair.grad is not None
