"""The samplers: each a short function walking x down `sigmas` with a denoiser `model(x, sigma) -> x0`.

Every sampler has ComfyUI's signature `(model, x, sigmas, extra_args=None, callback=None, disable=None,
**knobs)`; `x` enters already noised to sigmas[0] and leaves at sigmas[-1]. `extra_args` go to every model
call (ComfyUI passes "model_options" and "seed"); stochastic samplers draw their noise from a
`noise_sampler` knob, by default seeded with extra_args["seed"]. `callback` receives
{"i", "x", "sigma", "sigma_hat", "denoised"} once per step. `SAMPLERS` maps ComfyUI's names to them.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.sampling.common import bcast, euler_step, sample_with_step, to_d, x0_at_step
from engine.sampling.noise import seeded_noise
from engine.sampling.samplers_cfg_pp import (
    dpmpp_2m_cfg_pp,
    dpmpp_2s_ancestral_cfg_pp,
    euler_ancestral_cfg_pp,
    euler_cfg_pp,
    gradient_estimation,
    gradient_estimation_cfg_pp,
    res_multistep,
    res_multistep_ancestral,
    res_multistep_ancestral_cfg_pp,
    res_multistep_cfg_pp,
)
from engine.sampling.samplers_dpm_solver import dpm_adaptive, dpm_fast
from engine.sampling.samplers_dpmpp import (
    dpmpp_2m,
    dpmpp_2m_sde,
    dpmpp_2m_sde_gpu,
    dpmpp_2m_sde_heun,
    dpmpp_2m_sde_heun_gpu,
    dpmpp_2s_ancestral,
    dpmpp_3m_sde,
    dpmpp_3m_sde_gpu,
    dpmpp_sde,
    dpmpp_sde_gpu,
)
from engine.sampling.samplers_extra import ddpm, heunpp2
from engine.sampling.samplers_multistep import deis, ipndm, ipndm_v
from engine.sampling.samplers_sa_solver import sa_solver, sa_solver_pece
from engine.sampling.samplers_sde import er_sde, seeds_2, seeds_3
from engine.sampling.samplers_unipc import uni_pc, uni_pc_bh2


@torch.no_grad()
def euler(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Euler's method on the probability-flow ODE (Karras et al. 2022, Algorithm 2 without churn)."""
    return sample_with_step(euler_step, model, x, sigmas, extra_args, callback)


@torch.no_grad()
def euler_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                    noise_sampler=None):
    """Euler step to sigma_down, then fresh noise back up to sigma_next."""
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    return sample_with_step(euler_step, model, x, sigmas, extra_args, callback, noise_sampler, eta, s_noise)


def heun_step(model, x, denoised, sigma, sigma_to, extra_args):
    """Second order: the mean of the derivatives at both ends of the step (Karras et al. 2022, Algorithm 1)."""
    d = to_d(x, sigma, denoised)
    dt = sigma_to - sigma
    x_2 = x + d * dt
    d_2 = to_d(x_2, sigma_to, model(x_2, bcast(sigma_to, x), **extra_args))
    return x + (d + d_2) / 2 * dt


@torch.no_grad()
def heun(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Heun's second-order method; Euler for the final step to 0."""
    return sample_with_step(heun_step, model, x, sigmas, extra_args, callback)


def midpoint_step(model, x, denoised, sigma, sigma_to, extra_args):
    """Second order: the derivative at the log-sigma midpoint of the step (DPM-Solver-2)."""
    sigma_mid = sigma.log().lerp(sigma_to.log(), 0.5).exp()
    x_2 = x + to_d(x, sigma, denoised) * (sigma_mid - sigma)
    d_2 = to_d(x_2, sigma_mid, model(x_2, bcast(sigma_mid, x), **extra_args))
    return x + d_2 * (sigma_to - sigma)


@torch.no_grad()
def dpm_2(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """DPM-Solver-2 in Karras et al.'s form: midpoint in log-sigma; Euler for the final step to 0."""
    return sample_with_step(midpoint_step, model, x, sigmas, extra_args, callback)


@torch.no_grad()
def dpm_2_ancestral(model, x, sigmas, extra_args=None, callback=None, disable=None, eta=1.0, s_noise=1.0,
                    noise_sampler=None):
    """DPM-Solver-2 to sigma_down, then fresh noise back up to sigma_next."""
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    return sample_with_step(midpoint_step, model, x, sigmas, extra_args, callback, noise_sampler, eta, s_noise)


def lms_coefficients(sigmas: np.ndarray, i: int, order: int) -> list[float]:
    """Adams-Bashforth weights: the integral over [sigma_i, sigma_i+1] of each Lagrange basis polynomial
    through the last `order` sigmas (exact Gauss-Legendre quadrature, the integrands are polynomials)."""
    nodes, weights = np.polynomial.legendre.leggauss(order + 1)
    a, b = sigmas[i], sigmas[i + 1]
    taus = (b - a) / 2 * nodes + (b + a) / 2
    points = [sigmas[i - k] for k in range(order)]
    coeffs = []
    for j in range(order):
        basis = np.ones_like(taus)
        for k in range(order):
            if k != j:
                basis *= (taus - points[k]) / (points[j] - points[k])
        coeffs.append(float((b - a) / 2 * np.sum(weights * basis)))
    return coeffs


@torch.no_grad()
def lms(model, x, sigmas, extra_args=None, callback=None, disable=None, order=4):
    """Linear multistep (Adams-Bashforth in sigma) over the last `order` derivatives; like ComfyUI, the
    final step to 0 is the x0 estimate."""
    extra_args = extra_args or {}
    sigmas_np = sigmas.detach().cpu().numpy().astype(np.float64)
    ds = []
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        ds = [to_d(x, sigmas[i], denoised)] + ds[: order - 1]
        if sigmas[i + 1] == 0:
            x = denoised
            continue
        coeffs = lms_coefficients(sigmas_np, i, len(ds))
        x = x + sum(c * d for c, d in zip(coeffs, ds))
    return x


@torch.no_grad()
def lcm(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None):
    """Latent Consistency Models: jump to the denoised estimate, re-noise to the next sigma."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        x = denoised
        if sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * sigmas[i + 1]
    return x


SAMPLERS = {  # in ComfyUI's order, which the KSampler combo shows
    "euler": euler,
    "euler_cfg_pp": euler_cfg_pp,
    "euler_ancestral": euler_ancestral,
    "euler_ancestral_cfg_pp": euler_ancestral_cfg_pp,
    "heun": heun,
    "heunpp2": heunpp2,
    "dpm_2": dpm_2,
    "dpm_2_ancestral": dpm_2_ancestral,
    "lms": lms,
    "dpm_fast": dpm_fast,
    "dpm_adaptive": dpm_adaptive,  # adaptive step sizes: the number of steps is ignored
    "dpmpp_2s_ancestral": dpmpp_2s_ancestral,
    "dpmpp_2s_ancestral_cfg_pp": dpmpp_2s_ancestral_cfg_pp,
    "dpmpp_sde": dpmpp_sde,
    "dpmpp_sde_gpu": dpmpp_sde_gpu,
    "dpmpp_2m": dpmpp_2m,
    "dpmpp_2m_cfg_pp": dpmpp_2m_cfg_pp,
    "dpmpp_2m_sde": dpmpp_2m_sde,
    "dpmpp_2m_sde_gpu": dpmpp_2m_sde_gpu,
    "dpmpp_2m_sde_heun": dpmpp_2m_sde_heun,
    "dpmpp_2m_sde_heun_gpu": dpmpp_2m_sde_heun_gpu,
    "dpmpp_3m_sde": dpmpp_3m_sde,
    "dpmpp_3m_sde_gpu": dpmpp_3m_sde_gpu,
    "ddpm": ddpm,
    "lcm": lcm,
    "ipndm": ipndm,
    "ipndm_v": ipndm_v,
    "deis": deis,
    "res_multistep": res_multistep,
    "res_multistep_cfg_pp": res_multistep_cfg_pp,
    "res_multistep_ancestral": res_multistep_ancestral,
    "res_multistep_ancestral_cfg_pp": res_multistep_ancestral_cfg_pp,
    "gradient_estimation": gradient_estimation,
    "gradient_estimation_cfg_pp": gradient_estimation_cfg_pp,
    "er_sde": er_sde,
    "seeds_2": seeds_2,
    "seeds_3": seeds_3,
    "sa_solver": sa_solver,
    "sa_solver_pece": sa_solver_pece,
    # DDIM with eta = 0 is exactly Euler in the sigma parametrisation (ComfyUI runs it as euler, and
    # re-noises an inpainting mask's kept region with seed + 1).
    "ddim": euler,
    "uni_pc": uni_pc,
    "uni_pc_bh2": uni_pc_bh2,
}
