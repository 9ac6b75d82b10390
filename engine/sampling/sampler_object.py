"""SAMPLER values: a sampler function with its knobs, run the way ComfyUI's comfy.samplers.KSAMPLER runs it.

`Sampler.sample(guider, sigmas, extra_args, callback, noise, latent_image, denoise_mask)` noises the
latent to sigmas[0] (by sqrt(1 + sigma^2) from full noise), wraps the guider in the inpainting denoiser,
calls `sampler_function(denoiser, x, sigmas, extra_args=..., callback=..., disable=..., **extra_options)`
and undoes the noise scaling. `callback(i, denoised, x, total_steps)` runs once per step.
"""

from __future__ import annotations

import math

import torch

from engine.sampling.inpaint import InpaintDenoiser
from engine.sampling.samplers import SAMPLERS


class Sampler:
    """ComfyUI's KSAMPLER: `sampler_function`, `extra_options` (its knobs), `inpaint_options`
    ({"random": True}: the kept region is re-noised with seed + 1, as for ddim)."""

    def __init__(self, sampler_function, extra_options: dict | None = None, inpaint_options: dict | None = None):
        self.sampler_function = sampler_function
        self.extra_options = dict(extra_options or {})
        self.inpaint_options = dict(inpaint_options or {})

    def max_denoise(self, model_wrap, sigmas: torch.Tensor) -> bool:
        """Whether the run starts from pure noise (at or above the model's sigma_max)."""
        max_sigma = float(model_wrap.inner_model.model_sampling.sigma_max)
        sigma = float(sigmas[0])
        return math.isclose(max_sigma, sigma, rel_tol=1e-05) or sigma > max_sigma

    def sample(self, model_wrap, sigmas, extra_args, callback, noise, latent_image=None, denoise_mask=None,
               disable_pbar=False) -> torch.Tensor:
        extra_args["denoise_mask"] = denoise_mask
        denoiser = InpaintDenoiser(model_wrap, sigmas)
        denoiser.latent_image = latent_image
        if self.inpaint_options.get("random", False):
            generator = torch.manual_seed(extra_args.get("seed", 41) + 1)
            denoiser.noise = torch.randn(noise.shape, generator=generator).to(noise.dtype).to(noise.device)
        else:
            denoiser.noise = noise
        ms = model_wrap.inner_model.model_sampling
        x = ms.noise_scaling(sigmas[0], noise, latent_image, self.max_denoise(model_wrap, sigmas))
        total = len(sigmas) - 1
        step_callback = None
        if callback is not None:
            def step_callback(info):
                callback(info["i"], info["denoised"], info["x"], total)

        samples = self.sampler_function(denoiser, x, sigmas, extra_args=extra_args, callback=step_callback,
                                        disable=disable_pbar, **self.extra_options)
        return ms.inverse_noise_scaling(sigmas[-1], samples)


def ksampler(sampler_name: str, extra_options: dict | None = None, inpaint_options: dict | None = None) -> Sampler:
    """The SAMPLER of a registered sampler function, with knobs."""
    if sampler_name not in SAMPLERS:
        raise ValueError(f"sampler_name must be one of {list(SAMPLERS)}, got {sampler_name!r}")
    return Sampler(SAMPLERS[sampler_name], extra_options, inpaint_options)


def sampler_object(name: str) -> Sampler:
    """The SAMPLER KSamplerSelect gives for a name (ddim re-noises an inpainting mask's kept region)."""
    if name == "ddim":
        return ksampler("euler", inpaint_options={"random": True})
    return ksampler(name)
