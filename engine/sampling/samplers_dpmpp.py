"""DPM-Solver++ samplers (Lu et al. 2022): exponential integrators in t = -log(sigma) on the x0 estimate.

Deterministic (2m), ancestral (2s_ancestral) and SDE variants (sde, 2m_sde, 3m_sde); the SDE variants
default to noise from a Brownian tree seeded with extra_args["seed"], on the CPU (the `_gpu` variants:
on x's device).
"""

from __future__ import annotations

import torch

from engine.sampling.common import ancestral_step, bcast, lam, sample_with_step, sigma_at, x0_at_step
from engine.sampling.noise import seeded_brownian, seeded_noise


def dpmpp_2s_step(model, x, denoised, sigma, sigma_to, extra_args):
    """Single-step DPM-Solver++(2S): a second evaluation halfway in t = -log(sigma)."""
    t, t_next = lam(sigma), lam(sigma_to)
    h = t_next - t
    s = t + h / 2
    x_2 = (sigma_at(s) / sigma_at(t)) * x - (-h / 2).expm1() * denoised
    denoised_2 = model(x_2, bcast(sigma_at(s), x), **extra_args)
    return (sigma_at(t_next) / sigma_at(t)) * x - (-h).expm1() * denoised_2


@torch.no_grad()
def dpmpp_2s_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                       noise_sampler=None):
    """DPM-Solver++(2S) to sigma_down, then fresh noise back up to sigma_next."""
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    return sample_with_step(dpmpp_2s_step, model, x, sigmas, extra_args, callback, noise_sampler, eta, s_noise)


def _sde_noise(noise_sampler, sigma, sigma_next, eta_h, s_noise) -> torch.Tensor:
    """The SDE's fresh noise over a multistep SDE step of log-length h, eta_h = eta * h."""
    return noise_sampler(sigma, sigma_next) * (sigma_next * (-2 * eta_h).expm1().neg().sqrt() * s_noise)


@torch.no_grad()
def dpmpp_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
              noise_sampler=None, r=0.5):
    """DPM-Solver++ SDE: two stochastic half steps (to t + r*h, then to t + h) per sigma step."""
    if len(sigmas) <= 1:
        return x
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_brownian(x, sigmas, extra_args)
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        t, t_next = lam(sigmas[i]), lam(sigmas[i + 1])
        s = t + (t_next - t) * r
        sigma_s = sigma_at(s)
        sd, su = ancestral_step(sigma_at(t), sigma_s, eta)
        h_ = lam(sd) - t
        x_2 = (-h_).exp() * x - (-h_).expm1() * denoised
        if eta > 0 and s_noise > 0:
            x_2 = x_2 + noise_sampler(sigmas[i], sigma_s) * s_noise * su
        denoised_2 = model(x_2, bcast(sigma_s, x), **extra_args)
        sd, su = ancestral_step(sigma_at(t), sigma_at(t_next), eta)
        h_ = lam(sd) - t
        fac = 1 / (2 * r)
        denoised_d = (1 - fac) * denoised + fac * denoised_2
        x = (-h_).exp() * x - (-h_).expm1() * denoised_d
        if eta > 0 and s_noise > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * su
    return x


def dpmpp_sde_gpu(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                  noise_sampler=None, r=0.5):
    """dpmpp_sde with its Brownian tree on x's device."""
    if len(sigmas) > 1:
        noise_sampler = noise_sampler or seeded_brownian(x, sigmas, extra_args, cpu=False)
    return dpmpp_sde(model, x, sigmas, extra_args, callback, disable, eta, s_noise, noise_sampler, r)


@torch.no_grad()
def dpmpp_2m(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Multistep DPM-Solver++(2M): second order from the previous step's x0 estimate."""
    extra_args = extra_args or {}
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        t, t_next = lam(sigmas[i]), lam(sigmas[i + 1])
        h = t_next - t
        denoised_d = denoised
        if old_denoised is not None and sigmas[i + 1] > 0:
            r = (t - lam(sigmas[i - 1])) / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
        x = (sigma_at(t_next) / sigma_at(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


@torch.no_grad()
def dpmpp_2m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                 noise_sampler=None, solver_type="midpoint"):
    """Multistep DPM-Solver++(2M) SDE; `solver_type` "midpoint" or "heun" for the second-order term."""
    if solver_type not in ("midpoint", "heun"):
        raise ValueError(f"dpmpp_2m_sde: solver_type must be 'midpoint' or 'heun', got {solver_type!r}")
    if len(sigmas) <= 1:
        return x
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_brownian(x, sigmas, extra_args)
    old_denoised, h_last = None, None
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        h = lam(sigmas[i + 1]) - lam(sigmas[i])
        eta_h = eta * h
        decay = (-h - eta_h).expm1().neg()
        x = sigmas[i + 1] / sigmas[i] * (-eta_h).exp() * x + decay * denoised
        if old_denoised is not None:
            r = h_last / h
            if solver_type == "heun":
                x = x + (decay / (-h - eta_h) + 1) * (1 / r) * (denoised - old_denoised)
            else:
                x = x + 0.5 * decay * (1 / r) * (denoised - old_denoised)
        if eta > 0 and s_noise > 0:
            x = x + _sde_noise(noise_sampler, sigmas[i], sigmas[i + 1], eta_h, s_noise)
        old_denoised, h_last = denoised, h
    return x


def dpmpp_2m_sde_heun(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                      noise_sampler=None, solver_type="heun"):
    """dpmpp_2m_sde with the Heun form of its second-order term."""
    return dpmpp_2m_sde(model, x, sigmas, extra_args, callback, disable, eta, s_noise, noise_sampler, solver_type)


def dpmpp_2m_sde_gpu(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                     noise_sampler=None, solver_type="midpoint"):
    """dpmpp_2m_sde with its Brownian tree on x's device."""
    if len(sigmas) > 1:
        noise_sampler = noise_sampler or seeded_brownian(x, sigmas, extra_args, cpu=False)
    return dpmpp_2m_sde(model, x, sigmas, extra_args, callback, disable, eta, s_noise, noise_sampler, solver_type)


def dpmpp_2m_sde_heun_gpu(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                          noise_sampler=None, solver_type="heun"):
    """dpmpp_2m_sde_heun with its Brownian tree on x's device."""
    return dpmpp_2m_sde_gpu(model, x, sigmas, extra_args, callback, disable, eta, s_noise, noise_sampler,
                            solver_type)


@torch.no_grad()
def dpmpp_3m_sde(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                 noise_sampler=None):
    """Multistep DPM-Solver++(3M) SDE: third order from the two previous x0 estimates."""
    if len(sigmas) <= 1:
        return x
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_brownian(x, sigmas, extra_args)
    history = []  # [(denoised, h)] of previous steps, newest first
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        h = lam(sigmas[i + 1]) - lam(sigmas[i])
        h_eta = h * (eta + 1)
        x = (-h_eta).exp() * x + (-h_eta).expm1().neg() * denoised
        phi_2 = (-h_eta).expm1() / h_eta + 1
        if len(history) >= 2:
            (d_1, h_1), (d_2, h_2) = history[:2]
            r0, r1 = h_1 / h, h_2 / h
            d1_0, d1_1 = (denoised - d_1) / r0, (d_1 - d_2) / r1
            d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
            d2 = (d1_0 - d1_1) / (r0 + r1)
            x = x + phi_2 * d1 - (phi_2 / h_eta - 0.5) * d2
        elif history:
            d_1, h_1 = history[0]
            x = x + phi_2 * (denoised - d_1) / (h_1 / h)
        if eta > 0 and s_noise > 0:
            x = x + _sde_noise(noise_sampler, sigmas[i], sigmas[i + 1], eta * h, s_noise)
        history = [(denoised, h)] + history[:1]
    return x


def dpmpp_3m_sde_gpu(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                     noise_sampler=None):
    """dpmpp_3m_sde with its Brownian tree on x's device."""
    if len(sigmas) > 1:
        noise_sampler = noise_sampler or seeded_brownian(x, sigmas, extra_args, cpu=False)
    return dpmpp_3m_sde(model, x, sigmas, extra_args, callback, disable, eta, s_noise, noise_sampler)
