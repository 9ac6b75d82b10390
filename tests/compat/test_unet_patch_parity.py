"""Loom's UNet with ComfyUI model patches gives ComfyUI 0.3.64's own UNet outputs: the same tiny SD1.5
weights, inputs and patches (hand-written attention patches as packs write them, and the patches Loom's
FreeU_V2 / HyperTile / Deep Shrink / ToMe nodes register vs ComfyUI's nodes) through both networks
(tools/comfy_reference/unet_patches_reference.py; float32, 2e-5)."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from nodes.token_merging import TomePatchModel
from nodes.unet_patches import FreeU_V2, HyperTile, PatchModelAddDownscale
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.tiny_model import tiny_model

REF = load_file(Path(__file__).parent / "data" / "unet_patches_reference.safetensors")
GEN = torch.Generator().manual_seed(11)
X, TIMESTEPS = torch.randn(2, 4, 16, 16, generator=GEN), torch.tensor([500.0, 500.0])
CONTEXT, SIGMAS = torch.randn(2, 5, 32, generator=GEN), torch.tensor([14.0, 14.0])

NODES = {
    "freeu_v2": (FreeU_V2, {"b1": 1.3, "b2": 1.4, "s1": 0.9, "s2": 0.2}),
    "hypertile": (HyperTile, {"tile_size": 32, "swap_size": 1, "max_depth": 0, "scale_depth": False}),
    "deep_shrink": (PatchModelAddDownscale, {"block_number": 1, "downscale_factor": 2.0, "start_percent": 0.0,
                                             "end_percent": 0.35, "downscale_after_skip": True,
                                             "downscale_method": "bicubic", "upscale_method": "bicubic"}),
    "tome": (TomePatchModel, {"ratio": 0.5}),
}
HAND = {
    "plain": {},
    "attn2_qv": {"patches": {"attn2_patch": [lambda n, c, v, extra: (n * 2.0, c, v * 0.5)]}},
    "attn1_replace": {"patches_replace": {"attn1": {("middle", 0): lambda q, k, v, extra: v}}},
}


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(make_tiny_checkpoint("sd15", tmp_path_factory.mktemp("parity") / "sd15.safetensors"))


def forward(model, options: dict) -> torch.Tensor:
    unet = model.patch_model().diffusion_model
    torch.manual_seed(123)
    with torch.no_grad():
        return unet(X, TIMESTEPS, CONTEXT, transformer_options={**options, "cond_or_uncond": [0, 1],
                                                                 "sigmas": SIGMAS})


@pytest.mark.parametrize("name", list(HAND))
def test_hand_written_patches_match_comfyui_unet(model, name):
    torch.testing.assert_close(forward(model, HAND[name]), REF[name], rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", list(NODES))
def test_patch_nodes_match_comfyui_unet(model, name):
    cls, inputs = NODES[name]
    (patched,) = cls.model_construct(model=model, **inputs).run(None)
    out = forward(patched, patched.model_options["transformer_options"])
    torch.testing.assert_close(out, REF[name], rtol=2e-5, atol=2e-5)
    assert not torch.allclose(out, REF["plain"], atol=1e-4)
