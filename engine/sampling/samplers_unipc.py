"""UniPC (Zhao et al. 2023): multistep predictor-corrector on the x0 estimate, orders up to 3.

Written in the variance-exploding form (x = x0 + sigma*noise, lambda = -log sigma), which is the same
solver as the paper's variance-preserving form up to the scaling x_vp = x / sqrt(1 + sigma^2). As in
ComfyUI, a final sigma of 0 is replaced by 0.001 (lambda must stay finite) and the corrector is skipped
on the last step; the order ramps up over the first steps and down over the last ones.
"""

from __future__ import annotations

import math

import torch

from engine.sampling.common import bcast, lam

FINAL_SIGMA = 0.001


def _coefficients(h: torch.Tensor, rks: list[torch.Tensor], order: int, variant: str):
    """B(h) and the order conditions R @ rho = b for the data-prediction update (paper, Algorithm 2)."""
    hh = -h
    h_phi_1 = hh.expm1()
    b_h = hh if variant == "bh1" else hh.expm1()
    ks = torch.stack([*rks, torch.ones_like(h)])
    rows, b = [], []
    h_phi_k = h_phi_1 / hh - 1
    for i in range(1, order + 1):
        rows.append(ks ** (i - 1))
        b.append(h_phi_k * math.factorial(i) / b_h)
        h_phi_k = h_phi_k / hh - 1 / math.factorial(i + 1)
    return h_phi_1, b_h, torch.stack(rows), torch.stack(b)


def _uni_pc_step(model, x, history, sigma_t, order, variant, extra_args, correct):
    """Predict x at sigma_t from x at history[-1]'s sigma; optionally correct it with a fresh evaluation.

    `history` holds (sigma, x0 estimate) of previous points, newest last. Returns (x_t, x0 at x_t or None).
    """
    sigma_0, m0 = history[-1]
    h = lam(sigma_t) - lam(sigma_0)
    rks, d1s = [], []
    for sigma_k, m_k in reversed(history[-order:-1]):
        rk = (lam(sigma_k) - lam(sigma_0)) / h
        rks.append(rk)
        d1s.append((m_k - m0) / rk)
    h_phi_1, b_h, rows, b = _coefficients(h, rks, order, variant)
    x_t_ = sigma_t / sigma_0 * x - h_phi_1 * m0
    x_t = x_t_
    if d1s:
        rhos_p = torch.tensor([0.5]) if order == 2 else torch.linalg.solve(rows[:-1, :-1], b[:-1])
        x_t = x_t_ - b_h * sum(rho * d for rho, d in zip(rhos_p, d1s))
    if not correct:
        return x_t, None
    m_t = model(x_t, bcast(sigma_t, x), **extra_args)
    rhos_c = torch.tensor([0.5]) if order == 1 else torch.linalg.solve(rows, b)
    corr = sum((rho * d for rho, d in zip(rhos_c[:-1], d1s)), torch.zeros_like(x))
    return x_t_ - b_h * (corr + rhos_c[-1] * (m_t - m0)), m_t


@torch.no_grad()
def uni_pc(model, x, sigmas, extra_args=None, callback=None, disable=None, variant="bh1", max_order=3):
    """UniPC with B(h) = h ("bh1", suited to few steps) or e^h - 1 ("bh2")."""
    extra_args = extra_args or {}
    sigmas = sigmas.clone()
    if sigmas[-1] == 0:
        sigmas[-1] = FINAL_SIGMA
    steps = len(sigmas) - 1
    denoised = model(x, bcast(sigmas[0], x), **extra_args)
    history = [(sigmas[0], denoised)]
    for j in range(1, steps + 1):
        order = max(1, min(max_order, steps - 1, j, steps + 1 - j))
        x, denoised_t = _uni_pc_step(model, x, history, sigmas[j], order, variant, extra_args, correct=j < steps)
        if denoised_t is not None:
            history = (history + [(sigmas[j], denoised_t)])[-max_order:]
        if callback is not None:
            callback({"i": j - 1, "x": x, "sigma": sigmas[j - 1], "denoised": history[-1][1]})
    return x


def uni_pc_bh2(model, x, sigmas, extra_args=None, callback=None, disable=None):
    """UniPC with B(h) = e^h - 1."""
    return uni_pc(model, x, sigmas, extra_args, callback, disable, variant="bh2")
