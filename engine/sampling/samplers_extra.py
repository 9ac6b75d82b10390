"""ComfyUI's further samplers without a k-diffusion counterpart: ancestral DDPM and Heun++.

Same signature and callback as engine.sampling.samplers; each walks x down `sigmas` with a denoiser
`model(x, sigma) -> x0`.
"""

from __future__ import annotations

import torch

from engine.sampling.common import bcast, to_d, x0_at_step
from engine.sampling.noise import seeded_noise


def ddpm_step(x, sigma, sigma_next, eps, noise):
    """One DDPM step (Ho et al. 2020, Algorithm 2) in the variance-preserving frame where alpha-bar is
    1 / (1 + sigma^2), returned in the sigma frame: posterior mean plus posterior std (beta-tilde) noise."""
    abar, abar_next = 1 / (1 + sigma**2), 1 / (1 + sigma_next**2)
    alpha = abar / abar_next
    z = x * abar.sqrt()
    mean = (z - (1 - alpha) / (1 - abar).sqrt() * eps) / alpha.sqrt()
    if sigma_next == 0:
        return mean
    std = ((1 - alpha) * (1 - abar_next) / (1 - abar)).sqrt()
    return (mean + std * noise) / abar_next.sqrt()


@torch.no_grad()
def ddpm(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None):
    """Ancestral DDPM sampling, with fresh noise of the posterior's std each step."""
    extra_args = extra_args or {}
    noise_sampler = noise_sampler or seeded_noise(x, extra_args)
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        noise = noise_sampler(sigmas[i], sigmas[i + 1]) if sigmas[i + 1] > 0 else None
        x = ddpm_step(x, sigmas[i], sigmas[i + 1], to_d(x, sigmas[i], denoised), noise)
    return x


@torch.no_grad()
def heunpp2(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """Heun++ (from sd-webui-samplers-scheduler): Euler predictions to the next one or two sigmas, and the
    step taken along a blend of their derivatives weighted by sigma / (k * sigmas[0]); Heun's two-point
    blend for the last-but-one step, Euler for the last."""
    extra_args = extra_args or {}
    s_end = sigmas[-1]

    def derivative(x_at, sigma):
        return to_d(x_at, sigma, model(x_at, bcast(sigma, x), **extra_args))

    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        d = to_d(x, sigmas[i], denoised)
        dt = sigmas[i + 1] - sigmas[i]
        if sigmas[i + 1] == s_end:
            x = x + d * dt
            continue
        x_2 = x + d * dt
        d_2 = derivative(x_2, sigmas[i + 1])
        if sigmas[i + 2] == s_end:
            w_2 = sigmas[i + 1] / (2 * sigmas[0])
            x = x + ((1 - w_2) * d + w_2 * d_2) * dt
            continue
        x_3 = x_2 + d_2 * (sigmas[i + 2] - sigmas[i + 1])
        d_3 = derivative(x_3, sigmas[i + 2])
        w_2, w_3 = sigmas[i + 1] / (3 * sigmas[0]), sigmas[i + 2] / (3 * sigmas[0])
        x = x + ((1 - w_2 - w_3) * d + w_2 * d_2 + w_3 * d_3) * dt
    return x
