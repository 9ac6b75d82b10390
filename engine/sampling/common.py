"""Small maths shared by the samplers: derivatives, ancestral step split, log-sigma time, and the loop of
the samplers that take one (possibly multi-evaluation) step per sigma."""

from __future__ import annotations

from collections.abc import Callable

import torch

# step(model, x, denoised, sigma, sigma_to, extra_args) -> x moved from sigma to sigma_to
Step = Callable[..., torch.Tensor]


def bcast(sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A scalar sigma as a [B] tensor, the shape the denoiser expects."""
    return sigma * x.new_ones([x.shape[0]])


def to_d(x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """The probability-flow ODE derivative dx/dsigma = (x - x0) / sigma."""
    return (x - denoised) / sigma


def ancestral_step(sigma: torch.Tensor, sigma_next: torch.Tensor, eta: float = 1.0):
    """Split a step to sigma_next into a deterministic step to sigma_down plus fresh noise of std sigma_up."""
    if not eta:
        return sigma_next, torch.zeros_like(sigma_next)
    sigma_up = torch.minimum(sigma_next, eta * (sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2) ** 0.5)
    sigma_down = (sigma_next**2 - sigma_up**2) ** 0.5
    return sigma_down, sigma_up


def lam(sigma: torch.Tensor) -> torch.Tensor:
    """Half log-SNR time t = -log(sigma) used by the DPM-Solver family."""
    return -sigma.log()


def sigma_at(t: torch.Tensor) -> torch.Tensor:
    """The inverse of `lam`: sigma = exp(-t)."""
    return (-t).exp()


def report(callback, i: int, x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> None:
    """Hand step i's state to the sampler callback, if there is one (ComfyUI's keys)."""
    if callback is not None:
        callback({"i": i, "x": x, "sigma": sigma, "sigma_hat": sigma, "denoised": denoised})


def x0_at_step(model, x: torch.Tensor, sigmas: torch.Tensor, i: int, extra_args: dict, callback) -> torch.Tensor:
    """The denoiser's x0 estimate at sigmas[i], handed to the callback as step i (every sampler's first move)."""
    denoised = model(x, bcast(sigmas[i], x), **extra_args)
    report(callback, i, x, sigmas[i], denoised)
    return denoised


def capture_uncond(extra_args: dict) -> tuple[dict, dict]:
    """extra_args whose model options record each call's unguided x0 (for the CFG++ samplers).

    Adds a `sampler_post_cfg_function` that stores args["uncond_denoised"] in the returned dict under
    "uncond" and turns off the cfg = 1 shortcut, so the unconditional side is always evaluated.
    """
    seen: dict = {}

    def record(args: dict) -> torch.Tensor:
        seen["uncond"] = args["uncond_denoised"]
        return args["denoised"]

    options = dict(extra_args.get("model_options", {}))
    options["sampler_post_cfg_function"] = [*options.get("sampler_post_cfg_function", []), record]
    options["disable_cfg1_optimization"] = True
    return {**extra_args, "model_options": options}, seen


def euler_step(model, x, denoised, sigma, sigma_to, extra_args) -> torch.Tensor:
    """First order: along the derivative at sigma (no further model evaluation)."""
    return x + to_d(x, sigma, denoised) * (sigma_to - sigma)


def sample_with_step(step: Step, model, x, sigmas, extra_args=None, callback=None, noise_sampler=None,
                     eta: float = 0.0, s_noise: float = 1.0) -> torch.Tensor:
    """Walk x down `sigmas` with one `step` per sigma, Euler where the step ends at 0.

    With a noise sampler the sampler is ancestral: each step goes to sigma_down (see `ancestral_step`)
    and fresh noise of std sigma_up brings x back up to the next sigma.
    """
    extra_args = extra_args or {}
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        x = (euler_step if sigma_down == 0 else step)(model, x, denoised, sigmas[i], sigma_down, extra_args)
        if noise_sampler is not None and sigmas[i + 1] > 0:
            x = x + noise_sampler(sigmas[i], sigmas[i + 1]) * s_noise * sigma_up
    return x
