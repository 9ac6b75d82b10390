"""DPM-Solver (Lu et al. 2022): exponential integrators of orders 1-3 in t = -log(sigma) on the noise estimate.

`dpm_fast` spends a fixed budget of model evaluations on steps equally spaced in t; `dpm_adaptive` pairs
solvers of two orders and lets a PID controller pick the step sizes. Like ComfyUI, both use only the ends
of `sigmas` (from sigmas[0] to the last positive sigma) and leave x at that last positive sigma.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from engine.sampling.common import ancestral_step, bcast, lam, report, sigma_at
from engine.sampling.noise import seeded_noise


def noise_estimate(model, extra_args, cache: dict, key: str, x, t) -> torch.Tensor:
    """eps = (x - x0) / sigma at time t, evaluated once per `key` within a step (the cache is per step)."""
    if key not in cache:
        cache[key] = (x - model(x, bcast(sigma_at(t), x), **extra_args)) / sigma_at(t)
    return cache[key]


def dpm_solver_1(eps, x, t, t_next):
    """First order (DDIM): x moved along the noise estimate at t."""
    return x - sigma_at(t_next) * (t_next - t).expm1() * eps("eps", x, t)


def dpm_solver_2(eps, x, t, t_next, r1=1 / 2):
    """Second order: one more estimate at t + r1*h corrects the first-order step."""
    h = t_next - t
    e = eps("eps", x, t)
    s1 = t + r1 * h
    u1 = x - sigma_at(s1) * (r1 * h).expm1() * e
    e1 = eps("eps_r1", u1, s1)
    return x - sigma_at(t_next) * h.expm1() * e - sigma_at(t_next) / (2 * r1) * h.expm1() * (e1 - e)


def dpm_solver_3(eps, x, t, t_next, r1=1 / 3, r2=2 / 3):
    """Third order: estimates at t + r1*h and t + r2*h (DPM-Solver-3, the paper's Algorithm 5)."""
    h = t_next - t
    e = eps("eps", x, t)
    s1, s2 = t + r1 * h, t + r2 * h
    u1 = x - sigma_at(s1) * (r1 * h).expm1() * e
    e1 = eps("eps_r1", u1, s1)
    phi_2 = (r2 * h).expm1() / (r2 * h) - 1
    u2 = x - sigma_at(s2) * (r2 * h).expm1() * e - sigma_at(s2) * (r2 / r1) * phi_2 * (e1 - e)
    e2 = eps("eps_r2", u2, s2)
    return x - sigma_at(t_next) * h.expm1() * e - sigma_at(t_next) / r2 * (h.expm1() / h - 1) * (e2 - e)


DPM_SOLVER_STEPS = {1: dpm_solver_1, 2: dpm_solver_2, 3: dpm_solver_3}


def last_positive(sigmas: torch.Tensor) -> torch.Tensor:
    """Where the DPM-Solver samplers stop: the final sigma, or the one before it if that is 0."""
    return sigmas[-2] if sigmas[-1] == 0 else sigmas[-1]


def ancestral_target(t, t_next, t_end, eta):
    """The deterministic target time and the std of fresh noise for a step t -> t_next (none if eta is 0)."""
    if not eta:
        return t_next, 0.0
    sigma_down, _ = ancestral_step(sigma_at(t), sigma_at(t_next), eta)
    t_to = torch.minimum(t_end, lam(sigma_down))
    return t_to, (sigma_at(t_next) ** 2 - sigma_at(t_to) ** 2) ** 0.5


@torch.no_grad()
def dpm_fast(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=0.0, s_noise=1.0,
             noise_sampler=None):
    """DPM-Solver-fast: len(sigmas) - 1 evaluations as steps of order 3 (the last of order 2 and 1, or
    1 or 2), equally spaced in t from sigmas[0] to the last positive sigma (the paper's Section 3.4)."""
    if len(sigmas) <= 1:
        return x
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    nfe = len(sigmas) - 1
    t_end = lam(last_positive(sigmas))
    n_steps = nfe // 3 + 1
    ts = torch.linspace(float(lam(sigmas[0])), float(t_end), n_steps + 1, dtype=sigmas.dtype, device=sigmas.device)
    orders = [3] * (n_steps - 2) + [2, 1] if nfe % 3 == 0 else [3] * (n_steps - 1) + [nfe % 3]
    for i, order in enumerate(orders):
        eps = partial(noise_estimate, model, extra_args, {})
        t, t_next = ts[i], ts[i + 1]
        t_to, sigma_up = ancestral_target(t, t_next, t_end, eta)
        report(callback, i, x, sigma_at(t), x - sigma_at(t) * eps("eps", x, t))
        x = DPM_SOLVER_STEPS[order](eps, x, t, t_to)
        if eta:
            x = x + noise_sampler(sigma_at(t), sigma_at(t_next)) * s_noise * sigma_up
    return x


class PIDStepSize:
    """PID control of the step size h from the scaled error of each attempt; a step is accepted when the
    proposed growth factor reaches `accept_safety` (Söderlind 2003, as in the DPM-Solver paper)."""

    def __init__(self, h, pcoeff, icoeff, dcoeff, order, accept_safety=0.81, eps=1e-8):
        self.h, self.accept_safety, self.eps = h, accept_safety, eps
        self.b = ((pcoeff + icoeff + dcoeff) / order, -(pcoeff + 2 * dcoeff) / order, dcoeff / order)
        self.inv_errors: list[float] = []

    def accept(self, error) -> bool:
        """Record an attempt's error, rescale h, and say whether the attempt is kept."""
        inv_error = 1 / (float(error) + self.eps)
        if not self.inv_errors:
            self.inv_errors = [inv_error] * 3
        self.inv_errors[0] = inv_error
        factor = math.prod(e**b for e, b in zip(self.inv_errors, self.b))
        factor = 1 + math.atan(factor - 1)  # a smooth limiter on the change
        accepted = factor >= self.accept_safety
        if accepted:
            self.inv_errors[1:] = self.inv_errors[:2]
        self.h *= factor
        return accepted


@torch.no_grad()
def dpm_adaptive(model, x, sigmas, extra_args=None, callback=None, disable=None, order=3, rtol=0.05,
                 atol=0.0078, h_init=0.05, pcoeff=0.0, icoeff=1.0, dcoeff=0.0, accept_safety=0.81, eta=0.0,
                 s_noise=1.0, noise_sampler=None):
    """Adaptive DPM-Solver: each attempt takes an order-`order` and a lower-order step from the same
    estimates, and their difference sets the next step size (the paper's Algorithm 4).

    The number of steps is ignored: only sigmas[0] and the last positive sigma are used, and `i` in the
    callback counts attempts, which may exceed len(sigmas) - 1.
    """
    if order not in (2, 3):
        raise ValueError(f"dpm_adaptive: order must be 2 or 3, got {order}")
    if len(sigmas) <= 1:
        return x
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    s, t_end = lam(sigmas[0]), lam(last_positive(sigmas))
    controller = PIDStepSize(abs(h_init), pcoeff, icoeff, dcoeff, 1.5 if eta else order, accept_safety)
    x_prev, i = x, 0
    while s < t_end - 1e-5:
        eps = partial(noise_estimate, model, extra_args, {})
        t = torch.minimum(t_end, s + controller.h)
        t_to, sigma_up = ancestral_target(s, t, t_end, eta)
        report(callback, i, x, sigma_at(s), x - sigma_at(s) * eps("eps", x, s))
        if order == 2:
            x_low, x_high = dpm_solver_1(eps, x, s, t_to), dpm_solver_2(eps, x, s, t_to)
        else:
            x_low, x_high = dpm_solver_2(eps, x, s, t_to, r1=1 / 3), dpm_solver_3(eps, x, s, t_to)
        scale = torch.clamp(rtol * torch.maximum(x_low.abs(), x_prev.abs()), min=atol)
        error = torch.linalg.norm((x_low - x_high) / scale) / x.numel() ** 0.5
        if controller.accept(error):
            x = x_high
            if eta:
                x = x + noise_sampler(sigma_at(s), sigma_at(t)) * s_noise * sigma_up
            x_prev, s = x_low, t
        i += 1
    return x
