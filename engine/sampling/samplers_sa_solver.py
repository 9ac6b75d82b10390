"""SA-Solver (Xue et al. 2023, arXiv:2309.05019): stochastic Adams predictor-corrector on the x0 estimate
in half log-SNR time lambda = -log(sigma), with noise of strength tau inside an interval of the schedule.

Same signature and callback as engine.sampling.samplers. Without a `tau_func` the stochastic interval is
20%..80% of the model's schedule, which needs `model.model_sampling` (the sampling denoiser has it).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from engine.sampling.common import bcast, lam, report
from engine.sampling.noise import seeded_noise


def exponential_integrals(s: torch.Tensor, t: torch.Tensor, order: int, tau: float) -> torch.Tensor:
    """(1 + tau^2) * integral_s^t exp((1 + tau^2) x) x^p dx / exp((1 + tau^2) t) for p < order, by the
    integration-by-parts recursion I_p = x^p e^(kx) / k - (p / k) I_(p-1), k = 1 + tau^2."""
    k = 1 + tau**2
    p = torch.arange(order, dtype=s.dtype, device=s.device)
    ends = t**p - s**p * (-k * (t - s)).exp()
    depth = p[:, None] - p[None, :]
    log_factorial = (p + 1).lgamma()
    log_coeff = log_factorial[:, None] - log_factorial[None, :]
    if tau > 0:
        log_coeff = log_coeff - depth * math.log(k)
    signs = torch.where(depth % 2 == 0, 1.0, -1.0)
    return (log_coeff.exp() * signs).tril() @ ends


def simple_order_2_weights(sigma_next, lambdas, lambda_s, lambda_t, tau, corrector: bool) -> torch.Tensor:
    """The paper's simplified second-order weights (its Appendix D), oldest point first."""
    k = 1 + tau**2
    h = lambda_t - lambda_s
    alpha_t = sigma_next * lambda_t.exp()
    if corrector:
        b_1 = alpha_t * (0.5 * k * h)
        b_2 = alpha_t * (-h * k).expm1().neg() - b_1
    else:
        b_2 = alpha_t * (0.5 * k * h**2) / (lambdas[-2] - lambda_s)
        b_1 = alpha_t * (-h * k).expm1().neg() - b_2
    return torch.stack([b_2, b_1])


def adams_weights(sigma_next, lambdas, lambda_s, lambda_t, tau, simple_order_2=False, corrector=False):
    """Weights of the x0 estimates at `lambdas` (oldest first) for a step lambda_s -> lambda_t: the
    exponentially weighted integrals of their Lagrange basis polynomials (the paper's eqs. 15 and 18)."""
    n = lambdas.shape[0]
    if simple_order_2 and n == 2:
        return simple_order_2_weights(sigma_next, lambdas, lambda_s, lambda_t, tau, corrector)
    integrals = exponential_integrals(lambda_s, lambda_t, n, tau)
    basis = torch.linalg.solve(torch.vander(lambdas, n, increasing=True).T, integrals)
    return sigma_next * lambda_t.exp() * basis


def tau_interval(start_sigma: float, end_sigma: float, eta: float = 1.0) -> Callable[[torch.Tensor], float]:
    """Noise strength eta for sigmas within [end_sigma, start_sigma], 0 (an ODE step) elsewhere."""

    def tau(sigma) -> float:
        if eta <= 0:
            return 0.0
        return eta if start_sigma >= float(sigma) >= end_sigma else 0.0

    return tau


def _combine(preds: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    return torch.tensordot(torch.stack(preds, dim=1), weights.to(preds[0]), dims=([1], [0]))


@torch.no_grad()
def sa_solver(model, x, sigmas, extra_args=None, callback=None, disable=False, tau_func=None, s_noise=1.0,
              noise_sampler=None, predictor_order=3, corrector_order=4, use_pece=False, simple_order_2=False):
    """Stochastic Adams: predict with the last `predictor_order` estimates, correct with `corrector_order`."""
    if len(sigmas) <= 1:
        return x
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    if tau_func is None:
        ms = model.model_sampling
        tau_func = tau_interval(ms.percent_to_sigma(0.2), ms.percent_to_sigma(0.8))
    lambdas = lam(sigmas)
    max_order = max(predictor_order, corrector_order)
    x_pred, h, tau, noise = x, 0.0, 0.0, 0.0
    preds: list[torch.Tensor] = []
    taper = sigmas[-1].item() == 0  # lower the orders near the end
    for i in range(len(sigmas) - 1):
        denoised = model(x_pred, bcast(sigmas[i], x), **extra_args)
        report(callback, i, x_pred, sigmas[i], denoised)
        preds = (preds + [denoised])[-max_order:]
        p_order = min(predictor_order, len(preds))
        c_order = 0 if i == 0 or (sigmas[i + 1] == 0 and not use_pece) else min(corrector_order, len(preds))
        if taper:
            p_order = min(p_order, len(sigmas) - 2 - i)
            c_order = min(c_order, len(sigmas) - 1 - i)
        if c_order == 0:
            x = x_pred
        else:
            weights = adams_weights(sigmas[i], lambdas[i - c_order + 1:i + 1], lambdas[i - 1], lambdas[i], tau,
                                    simple_order_2, corrector=True)
            x = sigmas[i] / sigmas[i - 1] * (-(tau**2) * h).exp() * x + _combine(preds[-c_order:], weights)
            if tau > 0 and s_noise > 0:
                x = x + noise
            if use_pece:
                denoised = model(x, bcast(sigmas[i], x), **extra_args)
                preds[-1] = denoised
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        tau = tau_func(sigmas[i + 1])
        weights = adams_weights(sigmas[i + 1], lambdas[i - p_order + 1:i + 1], lambdas[i], lambdas[i + 1], tau,
                                simple_order_2)
        h = lambdas[i + 1] - lambdas[i]
        x_pred = sigmas[i + 1] / sigmas[i] * (-(tau**2) * h).exp() * x + _combine(preds[-p_order:], weights)
        if tau > 0 and s_noise > 0:
            std = sigmas[i + 1] * (-2 * tau**2 * h).expm1().neg().sqrt() * s_noise
            noise = noise_sampler(sigmas[i], sigmas[i + 1]) * std
            x_pred = x_pred + noise
    return x


def sa_solver_pece(model, x, sigmas, extra_args=None, callback=None, disable=False, tau_func=None, s_noise=1.0,
                   noise_sampler=None, predictor_order=3, corrector_order=4, simple_order_2=False):
    """SA-Solver in predict-evaluate-correct-evaluate mode (one more evaluation per step)."""
    return sa_solver(model, x, sigmas, extra_args, callback, disable, tau_func, s_noise, noise_sampler,
                     predictor_order, corrector_order, use_pece=True, simple_order_2=simple_order_2)
