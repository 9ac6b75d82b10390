"""The KSampler entry point: seed -> noise, schedule slicing, img2img/inpaint, guidance, one sampler run.

Implements ComfyUI's KSampler / KSamplerAdvanced semantics so that a workflow and a seed give the
picture people know: initial noise is `torch.randn` from `torch.manual_seed(seed)` on the CPU in float32
for the whole batch at once, then moved to the device.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from engine.sampling.cfg import CFGDenoiser, repeat_to_batch
from engine.sampling.model_options import model_options_of
from engine.sampling.noise import noise_sampler_for
from engine.sampling.samplers import SAMPLERS
from engine.sampling.schedules import calculate_sigmas

StepCallback = Callable[[int, int, torch.Tensor, torch.Tensor], None]


def prepare_noise(latent: torch.Tensor, seed: int, batch_index: list[int] | None = None) -> torch.Tensor:
    """Initial noise for a latent batch; with `batch_index`, sample i gets the noise it would have had at
    position batch_index[i] of one big batch (so one picture out of a batch can be reproduced alone)."""
    generator = torch.manual_seed(seed)
    shape = latent.shape
    if batch_index is None:
        return torch.randn(shape, generator=generator, dtype=torch.float32, device="cpu")
    wanted = set(batch_index)
    drawn = {}
    for i in range(max(batch_index) + 1):
        noise = torch.randn((1, *shape[1:]), generator=generator, dtype=torch.float32, device="cpu")
        if i in wanted:
            drawn[i] = noise
    return torch.cat([drawn[i] for i in batch_index])


def schedule_for(model, steps: int, scheduler: str, sampler_name: str, denoise: float = 1.0) -> torch.Tensor:
    """KSampler's sigmas: for denoise < 1, the last `steps` steps of a steps/denoise schedule."""
    ms = model.model_sampling
    if denoise is None or denoise > 0.9999:
        return calculate_sigmas(ms, scheduler, steps, sampler_name)
    if denoise <= 0.0:
        return torch.zeros(0)
    return calculate_sigmas(ms, scheduler, int(steps / denoise), sampler_name)[-(steps + 1):]


def slice_sigmas(sigmas: torch.Tensor, start_step: int | None, last_step: int | None,
                 force_full_denoise: bool) -> torch.Tensor | None:
    """KSamplerAdvanced's step range; None when nothing is left to run."""
    if last_step is not None and last_step < len(sigmas) - 1:
        sigmas = sigmas[: last_step + 1].clone()
        if force_full_denoise:
            sigmas[-1] = 0
    if start_step is not None:
        if start_step >= len(sigmas) - 1:
            return None
        sigmas = sigmas[start_step:]
    return sigmas


def prepare_mask(mask: torch.Tensor, shape: torch.Size, device) -> torch.Tensor:
    """A noise mask (any resolution, [H,W], [B,H,W] or [B,1,H,W]) at latent size, per channel and sample."""
    mask = mask.float().reshape(-1, 1, *mask.shape[-2:])
    mask = F.interpolate(mask, size=tuple(shape[2:]), mode="bilinear")
    return repeat_to_batch(mask.expand(-1, shape[1], -1, -1), shape[0]).to(device)


def inpainting(denoiser, mask: torch.Tensor, latent: torch.Tensor, noise: torch.Tensor, model_sampling,
               mask_function=None, mask_extra: dict | None = None):
    """Keep the unmasked region on the original latent's noising trajectory at every step.

    `mask_function` (ComfyUI's model option "denoise_mask_function", e.g. DifferentialDiffusion) maps
    (sigma, mask, extra_options) to the mask used at that step."""

    def denoise(x, sigma, **extra):
        step_mask = mask if mask_function is None else mask_function(sigma, mask, extra_options=mask_extra or {})
        keep = 1.0 - step_mask
        x = x * step_mask + model_sampling.noise_scaling(sigma, noise, latent) * keep
        return denoiser(x, sigma, **extra) * step_mask + latent * keep

    return denoise


def initial_noise(latent: dict, seed: int, add_noise: bool) -> torch.Tensor:
    """The LATENT's starting noise (zeros when add_noise is off, e.g. a refiner continuing a run)."""
    if not add_noise:
        return torch.zeros(latent["samples"].shape, dtype=torch.float32)
    return prepare_noise(latent["samples"], seed, latent.get("batch_index"))


def starts_at_full_noise(model_sampling, sigma: torch.Tensor) -> bool:
    """Whether a run starting at `sigma` begins from pure noise (then noise is scaled by sqrt(1 + sigma^2))."""
    top = float(model_sampling.sigma_max)
    return math.isclose(top, float(sigma), rel_tol=1e-5) or float(sigma) > top


def sample(model, noise_seed: int, steps: int, cfg, sampler_name: str, scheduler: str, positive: list,
           negative: list, latent: dict, denoise: float = 1.0, add_noise: bool = True,
           start_step: int | None = None, last_step: int | None = None, force_full_denoise: bool = True,
           callback: StepCallback | None = None, sigmas: torch.Tensor | None = None,
           device=None) -> dict:
    """Run one KSampler(Advanced) and return a copy of the LATENT dict with new "samples".

    add_noise=False starts from the latent as given (the refiner half of a hand-off);
    force_full_denoise=False with last_step returns the latent with its leftover noise; `sigmas`
    overrides the schedule. `callback(step, total, denoised, x)` runs at each step (0-based, with that
    step's x0 estimate, before its update): report progress as step + 1, raise there to interrupt.
    """
    if sampler_name not in SAMPLERS:
        raise ValueError(f"KSampler: sampler_name must be one of {sorted(SAMPLERS)}, got {sampler_name!r}")
    ms = model.model_sampling
    samples = latent["samples"]
    device = device or getattr(model, "device", None) or samples.device
    noise = initial_noise(latent, noise_seed, add_noise).to(device)
    if sigmas is None:
        sigmas = schedule_for(model, steps, scheduler, sampler_name, denoise)
    sigmas = slice_sigmas(sigmas, start_step, last_step, force_full_denoise)
    if sigmas is None or len(sigmas) == 0:
        return dict(latent)
    sigmas = sigmas.to(device)
    x0 = samples.to(device, torch.float32)
    if torch.count_nonzero(x0) > 0:
        x0 = model.process_latent_in(x0)

    denoiser = CFGDenoiser(model, positive, negative, cfg, x0.shape, device)
    if "noise_mask" in latent:
        mask_noise = noise
        if sampler_name == "ddim":  # ComfyUI re-noises the kept region with seed + 1 for ddim
            mask_noise = torch.randn(x0.shape, generator=torch.manual_seed(noise_seed + 1)).to(device)
        mask = prepare_mask(latent["noise_mask"], x0.shape, device)
        denoiser = inpainting(denoiser, mask, x0, mask_noise, ms,
                              model_options_of(model).get("denoise_mask_function"), {"model": model, "sigmas": sigmas})

    x = ms.noise_scaling(sigmas[0], noise, x0, starts_at_full_noise(ms, sigmas[0]))
    total = len(sigmas) - 1
    step_callback = None
    if callback is not None:
        def step_callback(info):
            callback(info["i"], total, info["denoised"], info["x"])

    noise_sampler = noise_sampler_for(sampler_name, x, sigmas, noise_seed)
    x = SAMPLERS[sampler_name](denoiser, x, sigmas, callback=step_callback, noise_sampler=noise_sampler)
    x = ms.inverse_noise_scaling(sigmas[-1], x)
    return {**latent, "samples": model.process_latent_out(x.float()).to(samples.device)}
