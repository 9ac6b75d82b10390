"""SIGMAS values for the custom-sampling nodes: schedules from tables or formulas, and edits of a schedule.

A SIGMAS value is a 1-D float32 tensor of descending noise levels, normally ending in 0. Functions here
follow ComfyUI's scheduler and sigma nodes number for number (tables: engine/sampling/data, copied from
ComfyUI by tools/comfy_reference/sampling_tables.py).
"""

from __future__ import annotations

import itertools
import json
import math
from functools import cache
from pathlib import Path

import numpy as np
import torch

from engine.sampling.schedules import calculate_sigmas

TABLES = Path(__file__).parent / "data" / "schedule_tables.json"


@cache
def _tables() -> dict:
    return json.loads(TABLES.read_text())


def loglinear_interp(levels: list[float], count: int) -> np.ndarray:
    """`count` descending values interpolated linearly in log space through the descending `levels`."""
    xs = np.linspace(0, 1, len(levels))
    ys = np.log(levels[::-1])
    return np.exp(np.interp(np.linspace(0, 1, count), xs, ys))[::-1].copy()


def _denoised_tail(levels, steps: int, denoise: float) -> torch.Tensor:
    """The last round(steps * denoise) steps of `levels` with a final 0 (the table schedulers' rule)."""
    total = steps
    if denoise < 1.0:
        if denoise <= 0.0:
            return torch.zeros(0)
        total = round(steps * denoise)
    levels = np.array(levels[-(total + 1):], dtype=np.float64)
    levels[-1] = 0
    return torch.tensor(levels, dtype=torch.float32)


def table_schedule(levels: list[float], steps: int, denoise: float) -> torch.Tensor:
    """A published table resampled to steps + 1 levels (log-linearly), cut for denoise."""
    if steps + 1 != len(levels):
        levels = loglinear_interp(levels, steps + 1)
    return _denoised_tail(list(levels), steps, denoise)


def align_your_steps(model_type: str, steps: int, denoise: float) -> torch.Tensor:
    """Align Your Steps (Sabour et al. 2024): NVIDIA's optimised 10-step levels for SD1, SDXL or SVD."""
    return table_schedule(_tables()["align_your_steps"][model_type], steps, denoise)


def optimal_steps(model_type: str, steps: int, denoise: float) -> torch.Tensor:
    """OptimalSteps (Pei et al. 2025) levels for FLUX, Wan or Chroma."""
    return table_schedule(_tables()["optimal_steps"][model_type], steps, denoise)


def gits(coeff: float, steps: int, denoise: float) -> torch.Tensor:
    """GITS (Chen et al. 2024) levels for a coefficient in 0.80..1.50 (tabled up to 20 steps)."""
    levels = _tables()["gits"][f"{round(coeff, 2):.2f}"]
    if steps <= 20:
        return _denoised_tail(levels[steps - 2], steps, denoise)
    return table_schedule(levels[-1], steps, denoise)


def basic_schedule(model_sampling, scheduler: str, steps: int, denoise: float) -> torch.Tensor:
    """BasicScheduler: the named schedule; for denoise < 1 the tail of a steps/denoise schedule."""
    total = steps
    if denoise < 1.0:
        if denoise <= 0.0:
            return torch.zeros(0)
        total = int(steps / denoise)
    return calculate_sigmas(model_sampling, scheduler, total).cpu()[-(steps + 1):]


def sd_turbo(model_sampling, steps: int, denoise: float) -> torch.Tensor:
    """SD-Turbo's timesteps 999, 899, ... (starting later for denoise < 1), as sigmas with a final 0."""
    start = 10 - int(10 * denoise)
    timesteps = torch.flip(torch.arange(1, 11) * 100 - 1, (0,))[start:start + steps]
    sigmas = model_sampling.sigma(timesteps)
    return torch.cat([sigmas, sigmas.new_zeros([1])])


def split_at_denoise(sigmas: torch.Tensor, denoise: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SplitSigmasDenoise: the high part up to where the last round(steps*denoise) steps begin, and those."""
    steps = max(sigmas.shape[-1] - 1, 0)
    total = round(steps * denoise)
    return sigmas[:-total], sigmas[-(total + 1):]


def flip(sigmas: torch.Tensor) -> torch.Tensor:
    """FlipSigmas: ascending order (for unsampling); a leading 0 becomes 0.0001."""
    if len(sigmas) == 0:
        return sigmas
    sigmas = sigmas.flip(0)
    if sigmas[0] == 0:
        sigmas[0] = 0.0001
    return sigmas


SPACINGS = {
    "linear": lambda x: x,
    "cosine": lambda x: torch.sin(x * math.pi / 2),
    "sine": lambda x: 1 - torch.cos(x * math.pi / 2),
}


def extend_intermediate(sigmas: torch.Tensor, steps: int, start_at_sigma: float, end_at_sigma: float,
                        spacing: str) -> torch.Tensor:
    """ExtendIntermediateSigmas: `steps - 1` extra levels inside each step whose start lies in
    [end_at_sigma, start_at_sigma] (a negative start means no upper bound), spaced by `spacing`."""
    if start_at_sigma < 0:
        start_at_sigma = float("inf")
    fractions = SPACINGS[spacing](torch.linspace(0, 1, steps + 1, device=sigmas.device)[1:-1])
    extended: list = []
    for current, following in itertools.pairwise(sigmas):
        extended.append(current)
        if end_at_sigma <= current <= start_at_sigma:
            extended.extend((fractions * (following - current) + current).tolist())
    if len(sigmas) > 0:
        extended.append(sigmas[-1])
    return torch.FloatTensor([float(v) for v in extended])


def percent_to_sigma(model_sampling, percent: float, return_actual_sigma: bool) -> float:
    """SamplingPercentToSigma: the sigma at a fraction of the schedule; at 0 and 1 the actual sigma_max /
    sigma_min when asked (instead of the interval-check values 999999999.9 and 0)."""
    sigma = model_sampling.percent_to_sigma(percent)
    if return_actual_sigma:
        if percent == 0.0:
            return float(model_sampling.sigma_max)
        if percent == 1.0:
            return float(model_sampling.sigma_min)
    return sigma
