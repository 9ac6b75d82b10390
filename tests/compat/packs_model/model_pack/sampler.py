"""A sampler added the ComfyUI way: `comfy.k_diffusion.sampling.sample_<name>` plus its name in
KSampler.SAMPLERS. It jumps to the model's x0 estimate in one step (what euler does with one step)."""

import comfy.k_diffusion.sampling
import comfy.samplers

SAMPLER_NAME = "compat_pack_x0_jump"
calls = []


def sample_compat_pack_x0_jump(model, x, sigmas, extra_args=None, callback=None, disable=None):
    extra_args = extra_args or {}
    s_in = x.new_ones([x.shape[0]])
    denoised = model(x, sigmas[0] * s_in, **extra_args)
    calls.append(len(sigmas) - 1)
    if callback is not None:
        callback({"i": 0, "x": x, "sigma": sigmas[0], "sigma_hat": sigmas[0], "denoised": denoised})
    return denoised


comfy.k_diffusion.sampling.sample_compat_pack_x0_jump = sample_compat_pack_x0_jump
if SAMPLER_NAME not in comfy.samplers.KSampler.SAMPLERS:
    comfy.samplers.KSampler.SAMPLERS.append(SAMPLER_NAME)
