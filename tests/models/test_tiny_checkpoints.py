"""The tiny fixture files go through the same path as real files: detect, build, strict load, run."""

import re

import pytest
import torch

from engine.models.checkpoint import load_weights
from engine.models.detect import detect_file
from engine.models.unet import UNetModel
from engine.models.vae import AutoencoderKL
from tests.fixtures.checkpoints import tiny_checkpoint_state_dict

FAMILIES = {
    # fixture: (manifest, family, prediction, text encoder kinds)
    "sd15": ("sd15", "sd1", "eps", ["clip_l"]),
    "sd21v": ("sd21_768v", "sd2", "v", ["openclip_h"]),
    "sdxl": ("sdxl_base", "sdxl", "eps", ["clip_l", "openclip_bigg"]),
    "sdxl_refiner": ("sdxl_refiner", "sdxl_refiner", "eps", ["openclip_bigg"]),
}


def _pattern(key: str) -> str:
    return re.sub(r"\.\d+(?=\.|$)", ".#", key)


@pytest.mark.parametrize("fixture_family", FAMILIES)
def test_tiny_checkpoint_loads_like_a_real_one(fixture_family, tiny_checkpoint):
    _, family, prediction, encoders = FAMILIES[fixture_family]
    config, checkpoint = detect_file(tiny_checkpoint(fixture_family))
    assert (config.family, config.prediction_type) == (family, prediction)
    assert [spec.kind for spec in config.text_encoders] == encoders
    assert all(any(k.startswith(spec.prefix) for k in checkpoint) for spec in config.text_encoders)
    unet, vae = UNetModel(config.unet), AutoencoderKL(config.vae)
    load_weights(unet, checkpoint.with_prefix(config.unet_prefix), "UNet")
    load_weights(vae, checkpoint.with_prefix(config.vae_prefix), "VAE")

    latents = torch.randn(1, config.latent_channels, 8, 8)
    context = torch.randn(1, 77, config.unet.context_dim)
    y = torch.randn(1, config.unet.adm_in_channels) if config.unet.adm_in_channels else None
    with torch.no_grad():
        assert unet(latents, torch.tensor([500.0]), context, y=y).shape == latents.shape
        assert vae.decode(latents).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("fixture_family", FAMILIES)
def test_tiny_checkpoint_has_the_real_key_layout(fixture_family, manifest):
    reference = manifest(FAMILIES[fixture_family][0])["tensors"]
    tiny = tiny_checkpoint_state_dict(fixture_family)
    assert {_pattern(k) for k in tiny} == {_pattern(k) for k in reference}


def test_same_seed_gives_the_same_file_and_another_seed_differs():
    a, b = tiny_checkpoint_state_dict("sd15", seed=3), tiny_checkpoint_state_dict("sd15", seed=3)
    c = tiny_checkpoint_state_dict("sd15", seed=4)
    key = "model.diffusion_model.input_blocks.0.0.weight"
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a[key], c[key])
