"""Stochastic exponential solvers on the x0 estimate: ER-SDE (Cui et al. 2023, arXiv:2309.06169) and
SEEDS-2/3 (Gonzalez et al. 2023, arXiv:2305.14267).

Written for the variance-exploding models Loom runs (x = x0 + sigma * noise, half log-SNR = -log sigma);
same signature and callback as engine.sampling.samplers.
"""

from __future__ import annotations

import torch

from engine.sampling.common import bcast, lam, sigma_at, x0_at_step
from engine.sampling.noise import seeded_noise

ER_SDE_POINTS = 200  # quadrature points of ER-SDE's stage-2/3 integrals


def er_sde_noise_scaler(x: torch.Tensor) -> torch.Tensor:
    """ER-SDE's default noise scale function of lambda = sigma / alpha."""
    return x * ((x**0.3).exp() + 10.0)


@torch.no_grad()
def er_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, s_noise=1.0, noise_sampler=None,
           noise_scaler=None, max_stage=3):
    """Extended reverse-time SDE solver, up to third order (`max_stage`) from previous x0 estimates."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    scaler = noise_scaler or er_sde_noise_scaler
    points = torch.arange(0, ER_SDE_POINTS, dtype=torch.float32, device=x.device)
    lambdas = sigmas  # sigma / alpha with alpha = 1
    old_denoised = old_denoised_d = None
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        stage = min(max_stage, i + 1)
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            lam_s, lam_t = lambdas[i], lambdas[i + 1]
            r = scaler(lam_t) / scaler(lam_s)
            x = r * x + (1 - r) * denoised
            if stage >= 2:
                dt = lam_t - lam_s
                step = -dt / ER_SDE_POINTS
                positions = lam_t + points * step
                scaled = scaler(positions)
                s = torch.sum(1 / scaled) * step
                denoised_d = (denoised - old_denoised) / (lam_s - lambdas[i - 1])
                x = x + (dt + s * scaler(lam_t)) * denoised_d
                if stage >= 3:
                    s_u = torch.sum((positions - lam_s) / scaled) * step
                    denoised_u = (denoised_d - old_denoised_d) / ((lam_s - lambdas[i - 2]) / 2)
                    x = x + (dt**2 / 2 + s_u * scaler(lam_t)) * denoised_u
                old_denoised_d = denoised_d
            if s_noise > 0:
                std = (lam_t**2 - lam_s**2 * r**2).sqrt().nan_to_num(nan=0.0)
                x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * std
        old_denoised = denoised
    return x


def _sde_leg(x, denoised_mix, sigma, sigma_to, h_part, eta):
    """The exponential-integrator move of x from sigma over a fraction h_part of the step (eta-scaled)."""
    return sigma_to / sigma * (-h_part * eta).exp() * x - (-h_part * (eta + 1)).expm1() * denoised_mix


def _carried_noise(noise, noise_sampler, factor, sigma_from, sigma_to):
    """The SDE noise accumulated so far carried across a segment (factor = -its log-length x eta), plus the
    segment's own fresh part."""
    return noise * factor.exp() + factor.mul(2).expm1().neg().sqrt() * noise_sampler(sigma_from, sigma_to)


def _first_stage(model, x, denoised, sigma, sigma_1, r, h, eta, s_noise, noise_sampler, extra_args):
    """SEEDS' first stage: x moved to sigma_1 (plus its SDE noise) and evaluated there.

    Returns (x0 estimate at sigma_1, the stage's noise or None when no noise is injected)."""
    x_1 = _sde_leg(x, denoised, sigma, sigma_1, r * h, eta)
    noise = None
    if eta > 0 and s_noise > 0:
        noise = (-2 * r * h * eta).expm1().neg().sqrt() * noise_sampler(sigma, sigma_1)
        x_1 = x_1 + noise * sigma_1 * s_noise
    return model(x_1, bcast(sigma_1, x), **extra_args), noise


@torch.no_grad()
def seeds_2(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
            noise_sampler=None, r=0.5):
    """SEEDS-2: one intermediate evaluation at lambda_s + r*h; eta 0 is the deterministic solver."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        lam_s, lam_t = lam(sigmas[i]), lam(sigmas[i + 1])
        h = lam_t - lam_s
        sigma_1 = sigma_at(torch.lerp(lam_s, lam_t, r))
        denoised_2, noise = _first_stage(model, x, denoised, sigmas[i], sigma_1, r, h, eta, s_noise, noise_sampler,
                                         extra_args)
        x = _sde_leg(x, torch.lerp(denoised, denoised_2, 1 / (2 * r)), sigmas[i], sigmas[i + 1], h, eta)
        if noise is not None:
            noise = _carried_noise(noise, noise_sampler, (r - 1) * h * eta, sigma_1, sigmas[i + 1])
            x = x + noise * sigmas[i + 1] * s_noise
    return x


def _h_phi_1(h: torch.Tensor) -> torch.Tensor:
    """h * phi_1(h) = e^h - 1: the total weight SEEDS' step gives its x0 estimates."""
    return torch.expm1(h)


def _h_phi_2(h: torch.Tensor) -> torch.Tensor:
    """h * phi_2(h) = (e^h - 1 - h) / h: the share of that weight SEEDS moves to a later x0 estimate."""
    return (torch.expm1(h) - h) / h


@torch.no_grad()
def seeds_3(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
            noise_sampler=None, r_1=1.0 / 3, r_2=2.0 / 3):
    """SEEDS-3: intermediate evaluations at lambda_s + r_1*h and lambda_s + r_2*h."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        lam_s, lam_t = lam(sigmas[i]), lam(sigmas[i + 1])
        h = lam_t - lam_s
        h_eta = h * (eta + 1)
        sigma_1, sigma_2 = sigma_at(torch.lerp(lam_s, lam_t, r_1)), sigma_at(torch.lerp(lam_s, lam_t, r_2))
        denoised_2, noise = _first_stage(model, x, denoised, sigmas[i], sigma_1, r_1, h, eta, s_noise,
                                         noise_sampler, extra_args)
        a_2 = r_2 / r_1 * _h_phi_2(-r_2 * h_eta)
        a_1 = _h_phi_1(-r_2 * h_eta) - a_2
        x_3 = sigma_2 / sigmas[i] * (-r_2 * h * eta).exp() * x - (a_1 * denoised + a_2 * denoised_2)
        if noise is not None:
            noise = _carried_noise(noise, noise_sampler, (r_1 - r_2) * h * eta, sigma_1, sigma_2)
            x_3 = x_3 + noise * sigma_2 * s_noise
        denoised_3 = model(x_3, bcast(sigma_2, x), **extra_args)
        b_3 = _h_phi_2(-h_eta) / r_2
        b_1 = _h_phi_1(-h_eta) - b_3
        x = sigmas[i + 1] / sigmas[i] * (-h * eta).exp() * x - (b_1 * denoised + b_3 * denoised_3)
        if noise is not None:
            noise = _carried_noise(noise, noise_sampler, (r_2 - 1) * h * eta, sigma_2, sigmas[i + 1])
            x = x + noise * sigmas[i + 1] * s_noise
    return x
