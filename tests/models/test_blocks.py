"""Attention backends agree, tiling blends seams exactly, control residuals reach the UNet, odd sizes work."""

import pytest
import torch

from engine.models import attention as attn
from engine.models.checkpoint import load_weights, strip_prefix
from engine.models.detect import detect_checkpoint
from engine.models.tiling import tiled_apply
from engine.models.unet import UNetModel
from engine.models.vae import AutoencoderKL
from tests.fixtures.checkpoints import tiny_checkpoint_state_dict


@pytest.fixture
def restore_backend():
    before = attn.attention_backend()
    yield
    attn.set_attention_backend(before)


def test_sliced_attention_equals_sdpa_even_in_small_chunks(restore_backend, monkeypatch):
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 37, 16, generator=gen) for _ in range(3))
    attn.set_attention_backend("sdpa")
    expected = attn.attention(q, k, v, heads=4)
    attn.set_attention_backend("sliced")
    monkeypatch.setattr(attn, "SLICE_BYTES", 2 * 4 * 37 * 4 * 5)  # 5 query rows per chunk
    assert torch.allclose(attn.attention(q, k, v, heads=4), expected, atol=1e-6)


def test_unknown_or_unavailable_backend_is_refused(restore_backend):
    with pytest.raises(ValueError, match="unknown"):
        attn.set_attention_backend("flash9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            attn.set_attention_backend("xformers")


def test_tiles_blend_to_the_untiled_result():
    x = torch.randn(1, 2, 20, 28)

    def upscale(t):  # pointwise per pixel, so any correct tiling reproduces it exactly
        return torch.nn.functional.interpolate(t * 2, scale_factor=4, mode="nearest")

    tiled = tiled_apply(upscale, x, tile=8, overlap=3, in_scale=1, out_scale=4)
    assert torch.allclose(tiled, upscale(x), atol=1e-6)


@pytest.fixture(scope="module")
def sd15():
    checkpoint = tiny_checkpoint_state_dict("sd15")
    config = detect_checkpoint(checkpoint)
    unet, vae = UNetModel(config.unet).eval(), AutoencoderKL(config.vae).eval()
    load_weights(unet, strip_prefix(checkpoint, "model.diffusion_model."), "UNet")
    load_weights(vae, strip_prefix(checkpoint, "first_stage_model."), "VAE")
    return unet, vae


@torch.no_grad()
def test_tiled_vae_with_one_tile_equals_plain_decode_and_encode(sd15):
    _, vae = sd15
    latents = torch.randn(1, 4, 6, 10)
    assert torch.allclose(vae.decode_tiled(latents, tile=16, overlap=4), vae.decode(latents), atol=1e-5)
    images = torch.rand(1, 3, 48, 80) * 2 - 1
    assert torch.allclose(vae.encode_tiled(images, tile=128, overlap=32), vae.encode(images), atol=1e-5)
    assert vae.decode_tiled(latents, tile=4, overlap=2).shape == (1, 3, 48, 80)


@torch.no_grad()
def test_control_residuals_are_added_where_comfyui_adds_them(sd15):
    unet, _ = sd15
    x, t, context = torch.randn(1, 4, 8, 8), torch.tensor([400.0]), torch.randn(1, 5, 32)
    plain = unet(x, t, context)
    skips = [(32, 8), (32, 8), (32, 4), (64, 4)]
    zeros = {"output": [torch.zeros(1, c, s, s) for c, s in skips], "middle": [torch.zeros(1, 64, 4, 4)]}
    assert torch.equal(unet(x, t, context, control=zeros), plain)
    assert len(zeros["output"]) == 4  # the caller's lists are not consumed
    middle_only = {"middle": [torch.randn(1, 64, 4, 4)]}
    assert not torch.allclose(unet(x, t, context, control=middle_only), plain)
    # "output" is in input-block order: entry 0 is input block 0's skip, taken by the last output block.
    first_skip = {"output": [torch.randn(1, 32, 8, 8), None, None, None]}
    assert not torch.allclose(unet(x, t, context, control=first_skip), plain)
    with pytest.raises(RuntimeError):  # a 32-channel residual cannot reach the 64-channel deepest skip
        unet(x, t, context, control={"output": [None, None, None, torch.randn(1, 32, 8, 8)]})


@torch.no_grad()
def test_odd_latent_sizes_keep_their_shape(sd15):
    unet, _ = sd15
    x = torch.randn(1, 4, 9, 7)
    assert unet(x, torch.tensor([10.0]), torch.randn(1, 3, 32)).shape == x.shape
