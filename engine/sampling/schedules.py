"""Noise schedules: the descending sigmas a sampler walks, each ending in 0.

Pure functions of (sigma_min, sigma_max, n) or of a model's sigma table; `SCHEDULERS` maps the
ComfyUI scheduler names to `fn(model_sampling, steps) -> sigmas` (float32, length steps + 1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.sampling.model_sampling import ModelSampling

# Samplers that step to a midpoint past the last sigma: ComfyUI asks for one more step and drops the
# penultimate sigma so the step count the user chose is kept.
DISCARD_PENULTIMATE_SIGMA = frozenset({"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"})


def append_zero(sigmas: torch.Tensor) -> torch.Tensor:
    """The schedule with its final step to sigma 0 (a clean sample) added."""
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def sigmas_karras(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """Karras et al. (2022): uniform steps in sigma^(1/rho)."""
    ramp = torch.linspace(0, 1, n)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    return append_zero((hi + ramp * (lo - hi)) ** rho)


def sigmas_exponential(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Uniform steps in log(sigma)."""
    return append_zero(torch.linspace(math.log(sigma_max), math.log(sigma_min), n).exp())


def sigmas_kl_optimal(n: int, sigma_min: float, sigma_max: float) -> torch.Tensor:
    """Uniform steps in atan(sigma) (Sabour et al. 2024, "Align Your Steps"), in float32 like ComfyUI; one
    step starts at sigma_max (ComfyUI divides by zero there and gives NaN)."""
    w = torch.arange(n, dtype=torch.float32) / max(n - 1, 1)
    return append_zero((w * math.atan(sigma_min) + (1 - w) * math.atan(sigma_max)).tan())


def sigmas_polyexponential(n: int, sigma_min: float, sigma_max: float, rho: float = 1.0) -> torch.Tensor:
    """log(sigma) falling from log(sigma_max) to log(sigma_min) as a power rho of a linear ramp."""
    ramp = torch.linspace(1, 0, n) ** rho
    return append_zero(torch.exp(ramp * (math.log(sigma_max) - math.log(sigma_min)) + math.log(sigma_min)))


def sigmas_vp(n: int, beta_d: float = 19.9, beta_min: float = 0.1, eps_s: float = 1e-3) -> torch.Tensor:
    """The continuous variance-preserving SDE's sigmas at times evenly spaced from 1 down to eps_s."""
    t = torch.linspace(1, eps_s, n)
    return append_zero(torch.sqrt(torch.special.expm1(beta_d * t**2 / 2 + beta_min * t)))


def sigmas_laplace(n: int, sigma_min: float, sigma_max: float, mu: float = 0.0, beta: float = 0.5) -> torch.Tensor:
    """log(sigma) at quantiles of a Laplace(mu, beta) distribution, clamped to the range (Tiankai et al.
    2024); like ComfyUI, no final 0 is appended."""
    x = torch.linspace(0, 1, n)
    log_sigma = mu - beta * torch.sign(0.5 - x) * torch.log(1 - 2 * torch.abs(0.5 - x) + 1e-5)
    return torch.clamp(torch.exp(log_sigma), min=sigma_min, max=sigma_max)


def normal(ms: ModelSampling, steps: int, sgm: bool = False) -> torch.Tensor:
    """Uniform in the model's timestep from sigma_max to sigma_min (sgm: drop the endpoint instead)."""
    start, end = float(ms.timestep(ms.sigma_max)), float(ms.timestep(ms.sigma_min))
    if sgm:
        ts = torch.linspace(start, end, steps + 1)[:-1]
    else:
        ts = torch.linspace(start, end, steps)
    return append_zero(ms.sigma(ts).float())


def sgm_uniform(ms: ModelSampling, steps: int) -> torch.Tensor:
    """Stability's "trailing" spacing: normal without its last point."""
    return normal(ms, steps, sgm=True)


def simple(ms: ModelSampling, steps: int) -> torch.Tensor:
    """Every len(table)/steps-th entry of the sigma table, from the top."""
    stride = len(ms.sigmas) / steps
    return append_zero(torch.stack([ms.sigmas[-(1 + int(i * stride))] for i in range(steps)]).float())


def ddim_uniform(ms: ModelSampling, steps: int) -> torch.Tensor:
    """DDIM's "leading" timesteps 1, 1+k, 1+2k, ... (k = table // steps), reversed."""
    stride = max(len(ms.sigmas) // steps, 1)
    return append_zero(ms.sigmas[1::stride].flip(0).float())


def beta(ms: ModelSampling, steps: int, alpha: float = 0.6, beta_: float = 0.6) -> torch.Tensor:
    """Timesteps at quantiles of a Beta(alpha, beta) distribution (Lee et al. 2024), duplicates merged."""
    from scipy.stats import beta as beta_dist

    last = len(ms.sigmas) - 1
    quantiles = 1 - np.linspace(0, 1, steps, endpoint=False)
    ts = torch.from_numpy(np.rint(beta_dist.ppf(quantiles, alpha, beta_) * last)).long()
    ts = torch.unique_consecutive(ts)
    return append_zero(ms.sigmas[ts].float())


def linear_quadratic(ms: ModelSampling, steps: int, threshold_noise: float = 0.025) -> torch.Tensor:
    """Movie Gen's schedule: linear in noise level for half the steps, then quadratic (times sigma_max)."""
    if steps == 1:
        levels = [1.0, 0.0]
    else:
        lin = steps // 2
        quad = steps - lin
        diff = lin - threshold_noise * steps
        a = diff / (lin * quad**2)
        b = threshold_noise / lin - 2 * diff / quad**2
        c = a * lin**2
        ramp = [i * threshold_noise / lin for i in range(lin)]
        ramp += [a * i**2 + b * i + c for i in range(lin, steps)]
        levels = [1.0 - r for r in ramp + [1.0]]
    return torch.tensor(levels, dtype=torch.float32) * float(ms.sigma_max)


def _from_range(fn):
    def schedule(ms: ModelSampling, steps: int) -> torch.Tensor:
        return fn(steps, float(ms.sigma_min), float(ms.sigma_max))

    schedule.__doc__ = fn.__doc__
    return schedule


SCHEDULERS = {
    "simple": simple,
    "sgm_uniform": sgm_uniform,
    "karras": _from_range(sigmas_karras),
    "exponential": _from_range(sigmas_exponential),
    "ddim_uniform": ddim_uniform,
    "beta": beta,
    "normal": normal,
    "linear_quadratic": linear_quadratic,
    "kl_optimal": _from_range(sigmas_kl_optimal),
}


def calculate_sigmas(ms: ModelSampling, scheduler: str, steps: int, sampler: str | None = None) -> torch.Tensor:
    """The schedule for `steps` steps, asking one more and dropping the penultimate for dpm_2/uni_pc."""
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler: expected one of {sorted(SCHEDULERS)}, got {scheduler!r}")
    if sampler in DISCARD_PENULTIMATE_SIGMA:
        sigmas = SCHEDULERS[scheduler](ms, steps + 1)
        return torch.cat([sigmas[:-2], sigmas[-1:]])
    return SCHEDULERS[scheduler](ms, steps)
