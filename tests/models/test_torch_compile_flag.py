"""`--torch-compile` routes the UNet forward through torch.compile, once per model; the VAE stays eager (its
decode measured slower compiled).

A real compile of even the tiny test UNet takes minutes on the 2-core CI machine, so torch.compile is
replaced by a recorder that returns the function unchanged: the flag's wiring is what is tested here.
"""

import argparse

import pytest
import torch

from engine.models.compile import set_torch_compile, torch_compile_enabled
from engine.models.unet import UNetModel
from engine.models.vae import AutoencoderKL
from launch.compute_flags import add_compute_arguments, manager_from_args
from tests.fixtures.checkpoints import TINY_UNETS, TINY_VAE


@pytest.fixture
def compile_calls(monkeypatch):
    """The functions handed to torch.compile (which returns them as they are); the flag is reset afterwards."""
    calls = []

    def record(fn, **kwargs):
        calls.append(fn)
        return fn

    monkeypatch.setattr(torch, "compile", record)
    yield calls
    set_torch_compile(False)


def _flags(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_compute_arguments(parser)
    return parser.parse_args(list(argv))


def test_flag_is_off_by_default_and_nothing_is_compiled(compile_calls):
    manager_from_args(_flags())
    assert not torch_compile_enabled()
    with torch.inference_mode():
        UNetModel(TINY_UNETS["sd15"])(torch.randn(1, 4, 8, 8), torch.tensor([1.0]), torch.randn(1, 3, 32))
    assert compile_calls == []


def test_flag_compiles_the_unet_forward_once_and_leaves_the_vae_eager(compile_calls):
    manager_from_args(_flags("--torch-compile"))
    assert torch_compile_enabled()
    unet, vae = UNetModel(TINY_UNETS["sd15"]).eval(), AutoencoderKL(TINY_VAE).eval()
    x, t, context = torch.randn(1, 4, 8, 8), torch.tensor([1.0]), torch.randn(1, 3, 32)
    with torch.inference_mode():
        first = unet(x, t, context)
        assert torch.equal(unet(x, t, context), first)
        vae.decode(torch.randn(1, 4, 4, 4))
        vae.decode(torch.randn(1, 4, 4, 4))
        vae.encode(torch.rand(1, 3, 32, 32))
    assert compile_calls == [unet._forward]
    set_torch_compile(False)
    with torch.inference_mode():
        assert torch.equal(unet(x, t, context), first)
    assert len(compile_calls) == 1
