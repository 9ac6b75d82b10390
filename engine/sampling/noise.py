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

    Built on torchsde's BrownianTree, on the CPU by default so results do not depend on the device
    (ComfyUI's `*_gpu` samplers build it on x's device instead).
    """

    def __init__(self, x: torch.Tensor, sigma_min, sigma_max, seed: int | None = None, cpu: bool = True):
        import torchsde

        if seed is None:
            seed = int(torch.randint(0, 2**63 - 1, []))
        self.like, self.device = x, torch.device("cpu") if cpu else x.device
        t0 = torch.tensor(float(sigma_min), device=self.device)
        t1 = torch.tensor(float(sigma_max), device=self.device)
        self.tree = torchsde.BrownianTree(t0, torch.zeros_like(x, device=self.device), t1, entropy=seed)

    def __call__(self, sigma, sigma_next) -> torch.Tensor:
        a = torch.as_tensor(sigma).float().to(self.device)
        b = torch.as_tensor(sigma_next).float().to(self.device)
        sign = 1.0 if a < b else -1.0
        with warnings.catch_warnings():
            # torchsde rounds the interval ends to its tolerance and clamps queries a rounding error outside
            # it (the first step at sigma_max), warning each time: harmless, so not shown.
            warnings.filterwarnings("ignore", message="Should have", category=UserWarning)
            w = self.tree(torch.minimum(a, b), torch.maximum(a, b)) * sign
        return (w / (b - a).abs().sqrt()).to(self.like.device, self.like.dtype)


def brownian_noise_sampler(x: torch.Tensor, sigmas: torch.Tensor, seed: int | None = None,
                           cpu: bool = True) -> NoiseSampler:
    """A Brownian tree spanning a schedule's positive sigmas."""
    return BrownianTreeNoiseSampler(x, sigmas[sigmas > 0].min(), sigmas.max(), seed=seed, cpu=cpu)


def seeded_noise(x: torch.Tensor, extra_args: dict | None) -> NoiseSampler:
    """A sampler's default fresh noise, seeded by extra_args["seed"] (the run's seed) as in ComfyUI."""
    return default_noise_sampler(x, (extra_args or {}).get("seed"))


def seeded_brownian(x: torch.Tensor, sigmas: torch.Tensor, extra_args: dict | None, cpu: bool = True) -> NoiseSampler:
    """An SDE sampler's default Brownian tree, seeded by extra_args["seed"]."""
    return brownian_noise_sampler(x, sigmas, (extra_args or {}).get("seed"), cpu)
