"""Seeded noise for stochastic samplers, so one seed always gives the same picture.

A noise sampler is `fn(sigma, sigma_next) -> Tensor shaped like x` holding unit-variance noise for the
step sigma -> sigma_next. Ancestral samplers draw fresh Gaussian noise per step; the SDE samplers
query a Brownian tree, whose increments stay consistent when the step sizes change.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

NoiseSampler = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

BROWNIAN_SAMPLERS = frozenset({"dpmpp_sde", "dpmpp_2m_sde", "dpmpp_3m_sde"})


def default_noise_sampler(x: torch.Tensor, seed: int | None = None) -> NoiseSampler:
    """Fresh N(0, 1) noise per call from a generator on x's device seeded with `seed` (global RNG if None)."""
    generator = None
    if seed is not None:
        generator = torch.Generator(device=x.device)
        generator.manual_seed(seed)

    def sample(sigma, sigma_next):
        return torch.randn(x.shape, dtype=x.dtype, device=x.device, generator=generator)

    return sample


class BrownianTreeNoiseSampler:
    """Normalised increments W(sigma_next) - W(sigma) of one Brownian motion over [sigma_min, sigma_max].

    Built on torchsde's BrownianTree (on the CPU, so results do not depend on the device).
    """

    def __init__(self, x: torch.Tensor, sigma_min, sigma_max, seed: int | None = None):
        import torchsde

        if seed is None:
            seed = int(torch.randint(0, 2**63 - 1, []))
        self.like = x
        t0, t1 = torch.tensor(float(sigma_min)), torch.tensor(float(sigma_max))
        self.tree = torchsde.BrownianTree(t0, torch.zeros_like(x, device="cpu"), t1, entropy=seed)

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        a, b = torch.as_tensor(sigma).float().cpu(), torch.as_tensor(sigma_next).float().cpu()
        sign = 1.0 if a < b else -1.0
        with warnings.catch_warnings():
            # torchsde rounds the interval ends to its tolerance and clamps queries a rounding error outside
            # it (the first step at sigma_max), warning each time: harmless, so not shown.
            warnings.filterwarnings("ignore", message="Should have", category=UserWarning)
            w = self.tree(torch.minimum(a, b), torch.maximum(a, b)) * sign
        return (w / (b - a).abs().sqrt()).to(self.like.device, self.like.dtype)


def brownian_noise_sampler(x: torch.Tensor, sigmas: torch.Tensor, seed: int | None = None) -> NoiseSampler:
    """A Brownian tree spanning a schedule's positive sigmas."""
    return BrownianTreeNoiseSampler(x, sigmas[sigmas > 0].min(), sigmas.max(), seed=seed)


def noise_sampler_for(sampler_name: str, x: torch.Tensor, sigmas: torch.Tensor, seed: int | None) -> NoiseSampler:
    """The noise a named sampler uses in ComfyUI: a Brownian tree for the SDE family, fresh noise otherwise."""
    if sampler_name in BROWNIAN_SAMPLERS:
        return brownian_noise_sampler(x, sigmas, seed)
    return default_noise_sampler(x, seed)
