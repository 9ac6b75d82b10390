"""The KSampler entry point: seed -> noise, schedule slicing, img2img/inpaint, guidance, one sampler run.

Implements ComfyUI's KSampler / KSamplerAdvanced semantics so that a workflow and a seed give the
picture people know: initial noise is `torch.randn` from `torch.manual_seed(seed)` on the CPU in float32
for the whole batch at once, then moved to the device.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from engine.sampling.guiders import CFGGuider
from engine.sampling.sampler_object import sampler_object
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


def initial_noise(latent: dict, seed: int, add_noise: bool) -> torch.Tensor:
    """The LATENT's starting noise (zeros when add_noise is off, e.g. a refiner continuing a run)."""
    if not add_noise:
        return torch.zeros(latent["samples"].shape, dtype=torch.float32)
    return prepare_noise(latent["samples"], seed, latent.get("batch_index"))


def sample(model, noise_seed: int, steps: int, cfg, sampler_name: str, scheduler: str, positive: list,
           negative: list, latent: dict, denoise: float = 1.0, add_noise: bool = True,
           start_step: int | None = None, last_step: int | None = None, force_full_denoise: bool = True,
           callback: StepCallback | None = None, sigmas: torch.Tensor | None = None,
           place=None, noise: torch.Tensor | None = None) -> dict:
    """Run one KSampler(Advanced) and return a copy of the LATENT dict with new "samples".

    add_noise=False starts from the latent as given (the refiner half of a hand-off);
    force_full_denoise=False with last_step returns the latent with its leftover noise; `sigmas`
    overrides the schedule and `noise` the seeded initial noise. `callback(step, total, denoised, x)` runs
    at each step (0-based, with that step's x0 estimate, before its update): report progress as step + 1,
    raise there to interrupt.
    `place(model)` is the context that yields the placed sampling model (see engine.sampling.guiders).
    """
    if sampler_name not in SAMPLERS:
        raise ValueError(f"KSampler: sampler_name must be one of {list(SAMPLERS)}, got {sampler_name!r}")
    samples = latent["samples"]
    noise = initial_noise(latent, noise_seed, add_noise) if noise is None else noise
    if sigmas is None:
        sigmas = schedule_for(model, steps, scheduler, sampler_name, denoise)
    sigmas = slice_sigmas(sigmas, start_step, last_step, force_full_denoise)
    if sigmas is None or len(sigmas) == 0:
        return dict(latent)
    guider = CFGGuider(model, place)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    step_callback = None
    if callback is not None:
        def step_callback(i, denoised, x, total):
            callback(i, total, denoised, x)

    out = guider.sample(noise, samples, sampler_object(sampler_name), sigmas, latent.get("noise_mask"),
                        step_callback, seed=noise_seed)
    return {**latent, "samples": out.to(samples.device)}
