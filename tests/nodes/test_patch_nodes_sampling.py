"""Model-patch nodes change what the sampler produces the way their papers (and ComfyUI) define: PAG's guided
x0 equals CFG plus scale times (cond - pass with identity middle self-attention), computed by hand on a
copy of the UNet; the other patches reach the UNet, the cfg hooks and the noise parametrisation of a real
KSampler run on a tiny SD1.5 checkpoint."""

import copy

import pytest
import torch

from engine.sampling.cfg import prepare_conds, sampling_function
from engine.sampling.ksampler import sample
from engine.values.denoiser import sampling_model
from nodes.attention_guidance import PerturbedAttentionGuidance, SelfAttentionGuidance
from nodes.attention_multiply import UNetCrossAttentionMultiply
from nodes.model_sampling_nodes import DifferentialDiffusion, ModelSamplingDiscrete
from nodes.token_merging import TomePatchModel
from nodes.unet_patches import EpsilonScaling, FreeU, HyperTile
from tests.fixtures.checkpoints import TEXT_WIDTH, make_tiny_checkpoint
from tests.fixtures.tiny_model import tiny_model

GEN = torch.Generator().manual_seed(5)
POSITIVE = [[torch.randn(1, 5, TEXT_WIDTH, generator=GEN), {}]]
NEGATIVE = [[torch.randn(1, 5, TEXT_WIDTH, generator=GEN), {}]]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(make_tiny_checkpoint("sd15", tmp_path_factory.mktemp("patch_sampling") / "sd15.safetensors"))


def sampler_view(model, unet=None):
    return sampling_model(model, unet or model.patch_model().diffusion_model)


def run(model, latent=None, steps=3):
    latent = latent or {"samples": torch.zeros(1, 4, 16, 16)}
    return sample(sampler_view(model), 7, steps, 4.0, "euler", "normal", POSITIVE, NEGATIVE, latent)["samples"]


def test_pag_adds_scale_times_cond_minus_identity_attention_pass(run_node, model):
    (pag,) = run_node(PerturbedAttentionGuidance, model=model, scale=2.5)
    x, sigma = torch.randn(1, 4, 16, 16, generator=GEN), torch.tensor([3.0])
    view = sampler_view(pag)
    conds = [prepare_conds(view, side, x.shape, "cpu") for side in (POSITIVE, NEGATIVE)]
    guided = sampling_function(view, x, sigma, conds[1], conds[0], 4.0, pag.model_options)

    plain = sampler_view(model)
    cond = plain.apply_model(x, sigma, POSITIVE[0][0])
    uncond = plain.apply_model(x, sigma, NEGATIVE[0][0])
    perturbed_unet = copy.deepcopy(model.patch_model().diffusion_model)
    attn = perturbed_unet.middle_block[1].transformer_blocks[0].attn1
    attn.forward = lambda n, context=None, value=None: attn.to_out(attn.to_v(n))
    perturbed = sampler_view(model, perturbed_unet).apply_model(x, sigma, POSITIVE[0][0])
    expected = uncond + 4.0 * (cond - uncond) + 2.5 * (cond - perturbed)
    torch.testing.assert_close(guided, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("patch", [
    (SelfAttentionGuidance, {"scale": 0.5, "blur_sigma": 2.0}),
    (FreeU, {"b1": 1.3, "b2": 1.4, "s1": 0.9, "s2": 0.2}),
    (HyperTile, {"tile_size": 32, "swap_size": 1, "max_depth": 0, "scale_depth": False}),
    (EpsilonScaling, {"scaling_factor": 1.2}),
    (ModelSamplingDiscrete, {"sampling": "v_prediction", "zsnr": False}),
    (UNetCrossAttentionMultiply, {"q": 1.0, "k": 1.0, "v": 2.0, "out": 1.0}),
    (TomePatchModel, {"ratio": 0.5}),
], ids=lambda p: p[0].__name__ if isinstance(p, tuple) else str(p))
def test_patch_nodes_change_a_ksampler_run(run_node, model, patch):
    cls, inputs = patch
    (patched,) = run_node(cls, model=model, **inputs)
    out, plain = run(patched), run(model)
    assert torch.isfinite(out).all()
    assert not torch.allclose(out, plain, atol=1e-4)
    assert torch.equal(run(model), plain)


def test_differential_diffusion_changes_a_masked_run(run_node, model):
    mask = torch.linspace(0, 1, 16).expand(16, 16)[None]
    latent = {"samples": torch.randn(1, 4, 16, 16, generator=GEN), "noise_mask": mask}
    (patched,) = run_node(DifferentialDiffusion, model=model, strength=1.0)
    out, plain = run(patched, latent), run(model, latent)
    assert not torch.allclose(out, plain, atol=1e-4)
    assert torch.isfinite(out).all()
