"""CFG++ samplers (Chung et al. 2024) and the solvers ComfyUI ships with a CFG++ form: RES multistep
(Zhang et al. 2023, arXiv:2308.02157) and gradient estimation (Permenter & Yuan 2024).

A CFG++ step renoises along the *unconditional* x0 estimate while moving to the guided one, which lets low
cfg values work. The unconditional estimate comes from the guider through a post-CFG hook added to
extra_args (`capture_uncond`), exactly where ComfyUI takes it.
"""

from __future__ import annotations

import torch

from engine.sampling.common import ancestral_step, bcast, capture_uncond, lam, sigma_at, to_d, x0_at_step
from engine.sampling.noise import seeded_noise


@torch.no_grad()
def euler_ancestral_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                           noise_sampler=None):
    """Euler ancestral (DDIM-like) steps that renoise along the unconditional x0 estimate."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    extra_args, seen = capture_uncond(extra_args)
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        d = to_d(x, sigmas[i], seen["uncond"])
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        x = denoised + sigma_down * d
        if eta > 0 and s_noise > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


@torch.no_grad()
def euler_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Euler steps (CFG++): euler_ancestral_cfg_pp without noise."""
    return euler_ancestral_cfg_pp(model, x, sigmas, extra_args, callback, disable, eta=0.0, s_noise=0.0)


@torch.no_grad()
def dpmpp_2s_ancestral_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0,
                              s_noise=1.0, noise_sampler=None):
    """DPM-Solver++(2S) ancestral whose steps start from x shifted by (guided - unconditional) x0."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    extra_args, seen = capture_uncond(extra_args)
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        uncond = seen["uncond"]
        if sigma_down == 0:
            x = denoised + to_d(x, sigmas[i], uncond) * sigma_down
        else:
            t, t_next = lam(sigmas[i]), lam(sigma_down)
            h = t_next - t
            s = t + h / 2
            x_2 = (sigma_at(s) / sigma_at(t)) * (x + (denoised - uncond)) - (-h / 2).expm1() * denoised
            denoised_2 = model(x_2, bcast(sigma_at(s), x), **extra_args)
            # as in ComfyUI, the shift now uses the unconditional x0 of the midpoint evaluation
            x = (sigma_at(t_next) / sigma_at(t)) * (x + (denoised - seen["uncond"])) - (-h).expm1() * denoised_2
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x


@torch.no_grad()
def dpmpp_2m_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """DPM-Solver++(2M) with the multistep correction taken on the unconditional x0 estimates."""
    extra_args, seen = capture_uncond(extra_args or {})
    old_uncond = None
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        uncond = seen["uncond"]
        h = lam(sigmas[i + 1]) - lam(sigmas[i])
        mix = -torch.exp(-h) * uncond
        if old_uncond is not None and sigmas[i + 1] != 0:
            r = (lam(sigmas[i]) - lam(sigmas[i - 1])) / h
            mix = mix - torch.expm1(-h) * (1 / (2 * r)) * (denoised - old_uncond)
        x = denoised + mix + torch.exp(-h) * x
        old_uncond = uncond
    return x


def _phi_1(t: torch.Tensor) -> torch.Tensor:
    """The exponential integrator's first phi function, (e^t - 1) / t."""
    return torch.expm1(t) / t


def _phi_2(t: torch.Tensor) -> torch.Tensor:
    """The second phi function, (phi_1(t) - 1) / t."""
    return (_phi_1(t) - 1.0) / t


@torch.no_grad()
def _res_multistep(model, x, sigmas, extra_args, callback, s_noise, noise_sampler, eta, cfg_pp):
    """RES second-order multistep in t = -log(sigma), ancestral when eta > 0, CFG++ when asked."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    seen: dict = {}
    if cfg_pp:
        extra_args, seen = capture_uncond(extra_args)
    old_denoised = old_sigma_down = None
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        base = seen["uncond"] if cfg_pp else denoised
        if sigma_down == 0 or old_denoised is None:
            if cfg_pp:
                x = denoised + to_d(x, sigmas[i], base) * sigma_down
            else:
                x = x + to_d(x, sigmas[i], denoised) * (sigma_down - sigmas[i])
        else:
            t, t_next = lam(sigmas[i]), lam(sigma_down)
            h = t_next - t
            c2 = (lam(sigmas[i - 1]) - lam(old_sigma_down)) / h
            phi_1, phi_2 = _phi_1(-h), _phi_2(-h)
            b1 = torch.nan_to_num(phi_1 - phi_2 / c2, nan=0.0)
            b2 = torch.nan_to_num(phi_2 / c2, nan=0.0)
            if cfg_pp:
                x = x + (denoised - base)
            x = sigma_at(h) * x + h * (b1 * base + b2 * old_denoised)
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
        old_denoised, old_sigma_down = base, sigma_down
    return x


def res_multistep(model, x, sigmas, extra_args=None, callback=None, disable=None, s_noise=1.0, noise_sampler=None):
    """RES multistep, deterministic."""
    return _res_multistep(model, x, sigmas, extra_args, callback, s_noise, noise_sampler, eta=0.0, cfg_pp=False)


def res_multistep_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None, s_noise=1.0,
                         noise_sampler=None):
    """RES multistep, CFG++."""
    return _res_multistep(model, x, sigmas, extra_args, callback, s_noise, noise_sampler, eta=0.0, cfg_pp=True)


def res_multistep_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                            noise_sampler=None):
    """RES multistep to sigma_down, then fresh noise back up to sigma_next."""
    return _res_multistep(model, x, sigmas, extra_args, callback, s_noise, noise_sampler, eta=eta, cfg_pp=False)


def res_multistep_ancestral_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0,
                                   s_noise=1.0, noise_sampler=None):
    """RES multistep ancestral, CFG++."""
    return _res_multistep(model, x, sigmas, extra_args, callback, s_noise, noise_sampler, eta=eta, cfg_pp=True)


@torch.no_grad()
def gradient_estimation(model, x, sigmas, extra_args=None, callback=None, disable=None, ge_gamma=2.0,
                        cfg_pp=False):
    """Euler plus (ge_gamma - 1) times the change of the derivative since the last step."""
    extra_args = extra_args or {}
    seen: dict = {}
    if cfg_pp:
        extra_args, seen = capture_uncond(extra_args)
    old_d = None
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        d = to_d(x, sigmas[i], seen["uncond"] if cfg_pp else denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            x = denoised + d * sigmas[i + 1] if cfg_pp else x + d * dt
            if i >= 1:
                x = x + (ge_gamma - 1) * (d - old_d) * dt
        old_d = d
    return x


def gradient_estimation_cfg_pp(model, x, sigmas, extra_args=None, callback=None, disable=None, ge_gamma=2.0):
    """Gradient estimation, CFG++."""
    return gradient_estimation(model, x, sigmas, extra_args, callback, disable, ge_gamma, cfg_pp=True)
