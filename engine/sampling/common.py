"""Small maths shared by the samplers: derivatives, ancestral step split, log-sigma time."""

from __future__ import annotations

import torch


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
    return (-t).exp()


def report(callback, i: int, x: torch.Tensor, sigma: torch.Tensor, denoised: torch.Tensor) -> None:
    if callback is not None:
        callback({"i": i, "x": x, "sigma": sigma, "denoised": denoised})
