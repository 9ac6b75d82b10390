"""ComfyUI's `comfy.k_diffusion.sampling`: every Loom sampler as `sample_<name>` (they have k-diffusion's
call: model, x, sigmas, extra_args, callback, disable, ...), plus the schedule and step helpers.

A pack may set `sample_<name>` here and append the name to comfy.samplers.KSampler.SAMPLERS to add a
sampler; `sample_<loom name>` is looked up live in Loom's registry (engine/sampling).
"""

from __future__ import annotations

from typing import Any

import torch

from engine.sampling.common import ancestral_step, to_d
from engine.sampling.noise import BrownianTreeNoiseSampler, default_noise_sampler
from engine.sampling.samplers import SAMPLERS
from engine.sampling.schedules import append_zero, sigmas_exponential, sigmas_karras

__all__ = ["BrownianTreeNoiseSampler", "append_zero", "default_noise_sampler", "get_ancestral_step",
           "get_sigmas_exponential", "get_sigmas_karras", "to_d"]


def get_sigmas_karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0, device: Any = "cpu") -> torch.Tensor:
    """Karras et al.'s schedule of n steps, ending in 0."""
    return sigmas_karras(n, sigma_min, sigma_max, rho).to(device)


def get_sigmas_exponential(n: int, sigma_min: float, sigma_max: float, device: Any = "cpu") -> torch.Tensor:
    """n steps equally spaced in log sigma, ending in 0."""
    return sigmas_exponential(n, sigma_min, sigma_max).to(device)


def get_ancestral_step(sigma_from: torch.Tensor, sigma_to: torch.Tensor, eta: float = 1.0):
    """(sigma_down, sigma_up) of an ancestral step from sigma_from to sigma_to."""
    return ancestral_step(sigma_from, sigma_to, eta)


def __getattr__(name: str) -> Any:
    """`sample_<name>` for every sampler in Loom's registry."""
    if name.startswith("sample_") and name[len("sample_"):] in SAMPLERS:
        return SAMPLERS[name[len("sample_"):]]
    raise AttributeError(f"module 'comfy.k_diffusion.sampling' has no attribute {name!r}")
