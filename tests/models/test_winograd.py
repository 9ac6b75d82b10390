"""NNPACK's Winograd 3×3 convolution (engine/winograd.py): the result of the direct convolution within fp32
rounding, taken by the models the manager loads where it was timed faster, and left alone where it cannot
serve."""

import argparse

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine import winograd
from engine.memory import ModelManager
from engine.models.vae import AutoencoderKL
from launch.compute_flags import add_compute_arguments, manager_from_args
from tests.fixtures.checkpoints import TINY_VAE
from tests.fixtures.convolutions import conv_case, exact_conv, prefer, record_calls

pytestmark = pytest.mark.skipif(not winograd.winograd_available(), reason="this torch build has no NNPACK")


@pytest.fixture
def nnpack_calls(monkeypatch):
    """Input shapes of every NNPACK call (the real kernel still runs); the flag is reset afterwards."""
    yield record_calls(monkeypatch, torch, "_nnpack_spatial_convolution", lambda x, *_: tuple(x.shape))
    winograd.set_winograd(True)


@pytest.mark.parametrize("shape, strip_bytes, with_bias", [
    ((1, 64, 32, 32), winograd.STRIP_BYTES, True),
    ((2, 32, 40, 33), winograd.STRIP_BYTES, False),  # a CFG batch, odd width, no bias
    ((3, 48, 37, 64), 8 * 48 * 66 * 4, True),  # strips of 8 rows, the last one short
])
def test_matches_the_direct_convolution_within_fp32_rounding(monkeypatch, shape, strip_bytes, with_bias):
    monkeypatch.setattr(winograd, "STRIP_BYTES", strip_bytes)
    x, weight, bias = conv_case(*shape[:2], 40, *shape[2:])
    bias = bias if with_bias else None
    exact = exact_conv(x, weight, bias)
    fast, direct = winograd.winograd_conv3x3(x, weight, bias), F.conv2d(x, weight, bias, padding=1)
    assert fast.shape == exact.shape and fast.dtype == torch.float32
    scale = exact.abs().max().item()
    assert (fast.double() - exact).abs().max().item() <= 1e-4 * scale
    assert (direct.double() - exact).abs().max().item() <= 1e-5 * scale  # oneDNN: the tighter of the two


def test_rows_past_a_strip_edge_see_their_neighbours(monkeypatch, nnpack_calls):
    """A one-hot input on the row between two strips lands in both strips' outputs, as in the direct conv."""
    monkeypatch.setattr(winograd, "STRIP_BYTES", 8 * 16 * 34 * 4)  # 8-row strips: 16 channels, 32 wide
    x = torch.zeros(1, 16, 32, 32)
    x[0, :, 7, 5] = 1.0
    weight = torch.ones(16, 16, 3, 3)
    out = winograd.winograd_conv3x3(x, weight, None)
    assert len(nnpack_calls) == 4
    torch.testing.assert_close(out, F.conv2d(x, weight, padding=1), atol=1e-4, rtol=0)
    assert out[0, 0, 6:9, 4:7].min().item() == pytest.approx(16.0, abs=1e-3)


class _OwnForwardConv(nn.Conv2d):
    pass


def test_use_winograd_converts_only_plain_3x3_stride_1_convolutions():
    model = nn.Sequential(
        nn.Conv2d(32, 32, 3, padding=1),  # eligible
        nn.Conv2d(32, 32, 3, stride=2, padding=1),  # downsampling
        nn.Conv2d(32, 32, 1),  # pointwise
        nn.Conv2d(4, 32, 3, padding=1),  # from 4 channels: faster direct
        nn.Conv2d(32, 32, 3, padding=1, padding_mode="reflect"),
        _OwnForwardConv(32, 32, 3, padding=1),  # a subclass (a pack's, say) keeps its own forward
    )
    before = {k: v.clone() for k, v in model.state_dict().items()}
    winograd.use_winograd(model)
    assert [type(m) is winograd.WinogradConv2d for m in model] == [True, False, False, False, False, False]
    assert isinstance(model[0], nn.Conv2d)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_small_inputs_grad_and_the_flag_take_the_direct_convolution(monkeypatch, nnpack_calls):
    prefer(monkeypatch, "nnpack")
    conv = winograd.use_winograd(nn.Sequential(nn.Conv2d(32, 32, 3, padding=1)))[0]
    small, large = torch.randn(1, 32, 16, 16), torch.randn(1, 32, 32, 32)
    with torch.no_grad():
        assert torch.equal(conv(small), F.conv2d(small, conv.weight, conv.bias, padding=1))
        assert nnpack_calls == []
        conv(large)
        assert nnpack_calls == [(1, 32, 32, 32)]
        winograd.set_winograd(False)
        assert torch.equal(conv(large), F.conv2d(large, conv.weight, conv.bias, padding=1))
    winograd.set_winograd(True)
    out = conv(large.requires_grad_())  # training: NNPACK's kernel has no backward here
    out.sum().backward()
    assert len(nnpack_calls) == 1 and large.grad is not None


def _vae_manager(flags=()):
    """A manager built from the command-line flags, holding the tiny VAE (random weights, seed 0)."""
    parser = argparse.ArgumentParser()
    add_compute_arguments(parser)
    manager = manager_from_args(parser.parse_args(["--cpu", *flags]))
    assert isinstance(manager, ModelManager)
    torch.manual_seed(0)
    weights = AutoencoderKL(TINY_VAE).state_dict()
    handle = manager.handle("tiny_vae", name="tiny_vae", kind="vae", build=lambda: AutoencoderKL(TINY_VAE),
                            state_dict=lambda: weights)
    return manager, handle


def _decode(manager, handle):
    latent = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(5))
    with manager.use(handle) as vae, torch.inference_mode():
        pixels = vae.decode(latent)
    return ((pixels.clamp(-1, 1) + 1) * 127.5).round().numpy()


def test_a_loaded_vae_decodes_through_nnpack_within_one_pixel_level_of_no_winograd(monkeypatch, nnpack_calls):
    prefer(monkeypatch, "nnpack")
    fast = _decode(*_vae_manager())
    sizes = {shape[-1] for shape in nnpack_calls}
    assert sizes == {32, 64, 128}  # the decoder's 3x3 convs at 32² and up; those at 16² stay direct
    nnpack_calls.clear()
    direct = _decode(*_vae_manager(["--no-winograd"]))
    assert nnpack_calls == []
    assert np.abs(fast - direct).max() <= 1.0
