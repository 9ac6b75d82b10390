"""The compat layer's comfy.samplers is a view onto engine.sampling's values: a pack driving ComfyUI's
CFGGuider / ksampler / calculate_sigmas gets ComfyUI's numbers (reference: test_comfy_parity's data;
tolerance max |loom - comfy| <= 2e-5 * max |comfy|)."""

import torch

from comfy_compat.comfy import sample as comfy_sample
from comfy_compat.comfy import sampler_helpers
from comfy_compat.comfy import samplers as comfy_samplers
from tests.sampling.comfy_reference import CFG, SEED, SHAPE, STEPS, conditioning, reference, toy_model


def test_pack_style_guided_run_equals_comfyui():
    model = toy_model()
    positive, negative = conditioning()
    guider = comfy_samplers.CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(CFG)
    sigmas = comfy_samplers.calculate_sigmas(model.model_sampling, "karras", STEPS)
    latent = torch.zeros(SHAPE)
    noise = comfy_sample.prepare_noise(latent, SEED)
    out = guider.sample(noise, latent, comfy_samplers.ksampler("dpmpp_2m"), sigmas, seed=SEED)
    theirs = reference()["run/dpmpp_2m/karras"]
    assert (out - theirs).abs().max() <= 2e-5 * theirs.abs().max()


def test_prepare_mask_gives_latent_size_and_batch():
    mask = sampler_helpers.prepare_mask(torch.ones(1, 64, 64), (2, 4, 8, 8), "cpu")
    assert mask.shape == (2, 4, 8, 8)
