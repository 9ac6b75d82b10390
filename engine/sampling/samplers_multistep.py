"""Linear multistep samplers on the noise estimate d = (x - x0) / sigma: iPNDM, its variable-step form
iPNDM-v, and DEIS (Zhang & Chen 2022), each reusing up to three previous derivatives per step.

Same signature and callback as engine.sampling.samplers.
"""

from __future__ import annotations

import torch

from engine.sampling.common import to_d, x0_at_step

# Adams-Bashforth weights for equal steps, newest derivative first, by order.
ADAMS_BASHFORTH = {1: (1,), 2: (3 / 2, -1 / 2), 3: (23 / 12, -16 / 12, 5 / 12),
                   4: (55 / 24, -59 / 24, 37 / 24, -9 / 24)}


def _walk(model, x, sigmas, extra_args, callback, max_order, update):
    """The loop the three share: evaluate, keep the last `max_order` derivatives (newest first), and let
    `update(i, x, ds)` move x to sigmas[i + 1]; the final step to 0 is the x0 estimate."""
    extra_args = extra_args or {}
    ds: list[torch.Tensor] = []
    for i in range(len(sigmas) - 1):
        denoised = x0_at_step(model, x, sigmas, i, extra_args, callback)
        ds = [to_d(x, sigmas[i], denoised)] + ds[: max_order - 1]
        x = denoised if sigmas[i + 1] == 0 else update(i, x, ds)
    return x


@torch.no_grad()
def ipndm(model, x, sigmas, extra_args=None, callback=None, disable=None, max_order=4):
    """Improved PNDM: Adams-Bashforth in sigma with the equal-step weights, starting from Euler."""

    def update(i, x, ds):
        return x + (sigmas[i + 1] - sigmas[i]) * sum(w * d for w, d in zip(ADAMS_BASHFORTH[len(ds)], ds))

    return _walk(model, x, sigmas, extra_args, callback, max_order, update)


def ipndm_v_weights(steps: list[torch.Tensor]) -> list[torch.Tensor]:
    """Variable-step Adams-Bashforth weights, newest first, from the step lengths [h_n, h_n-1, ...]."""
    h = steps[0]
    if len(steps) == 1:
        return [torch.ones_like(h)]
    h1 = steps[1]
    ratio = h / h1
    weights = [1 + ratio / 2, -ratio / 2]
    if len(steps) == 2:
        return weights
    h2 = steps[2]
    third = (1 - h / (3 * (h + h1)) * (h * (h + h1)) / (h1 * (h1 + h2))) / 2
    weights = [weights[0] + third, weights[1] - (1 + h1 / h2) * third, third * h1 / h2]
    if len(steps) == 3:
        return weights
    h3 = steps[3]
    span = h * (h + h1) * (h + h1 + h2) / (h1 * (h1 + h2) * (h1 + h2 + h3))
    fourth = ((1 - h / (3 * (h + h1))) / 2 + (1 - h / (2 * (h + h1))) * h / (6 * (h + h1 + h2))) * span
    ratio_2 = h1 * (h1 + h2) / (h2 * (h2 + h3))
    return [weights[0] + fourth,
            weights[1] - (1 + h1 / h2 + ratio_2) * fourth,
            weights[2] + (h1 / h2 + ratio_2 * (1 + h2 / h3)) * fourth,
            -fourth * ratio_2 * h1 / h2]


@torch.no_grad()
def ipndm_v(model, x, sigmas, extra_args=None, callback=None, disable=None, max_order=4):
    """iPNDM with weights for the actual, unequal step lengths."""

    def update(i, x, ds):
        steps = [sigmas[i + 1 - k] - sigmas[i - k] for k in range(len(ds))]
        return x + steps[0] * sum(w * d for w, d in zip(ipndm_v_weights(steps), ds))

    return _walk(model, x, sigmas, extra_args, callback, max_order, update)


# DEIS's variance-preserving time: the EDM range it was tuned on and its quadrature resolution.
DEIS_SIGMA_MIN, DEIS_SIGMA_MAX, DEIS_EPS_S, DEIS_POINTS = 0.002, 80.0, 1e-3, 10000


def deis_times(sigmas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Map sigmas to the VP SDE time t in [eps_s, 1] with a linear beta(t) = beta_0 + t (beta_1 - beta_0)."""
    log_min = torch.tensor(DEIS_SIGMA_MIN).square().add(1).log()
    log_max = torch.tensor(DEIS_SIGMA_MAX).square().add(1).log()
    beta_d = 2 * (log_min / DEIS_EPS_S - log_max) / (DEIS_EPS_S - 1)
    beta_0 = log_max - 0.5 * beta_d
    sigmas = sigmas.detach().cpu()
    t = ((beta_0**2 + 2 * beta_d * (sigmas**2 + 1).log()).sqrt() - beta_0) / beta_d
    return t, beta_0, beta_d + beta_0


def deis_weights(t: torch.Tensor, i: int, order: int, beta_0, beta_1) -> list[torch.Tensor]:
    """The integral over [t_i, t_i+1] of eps's weight times each Lagrange basis polynomial through the last
    `order` times (rectangle rule on DEIS_POINTS points, as the reference implementation integrates)."""
    taus = torch.linspace(float(t[i]), float(t[i + 1]), DEIS_POINTS)
    dtau = (t[i + 1] - t[i]) / DEIS_POINTS
    alpha = torch.exp(-0.5 * taus**2 * (beta_1 - beta_0) - taus * beta_0)
    d_log_alpha = -(taus * (beta_1 - beta_0) + beta_0)
    integrand = -0.5 * d_log_alpha / torch.sqrt(alpha * (1 - alpha))
    points = [t[i - k] for k in range(order)]
    weights = []
    for j in range(order):
        basis = 1
        for k in range(order):
            if k != j:
                basis = basis * (taus - points[k]) / (points[j] - points[k])
        weights.append(torch.sum(integrand * basis) * dtau)
    return weights


@torch.no_grad()
def deis(model, x, sigmas, extra_args=None, callback=None, disable=None, max_order=3, deis_mode="tab"):
    """DEIS with time-integrated polynomial extrapolation ("tab") of the previous noise estimates."""
    if deis_mode != "tab":
        raise ValueError(f"deis: deis_mode must be 'tab', got {deis_mode!r}")
    t, beta_0, beta_1 = deis_times(sigmas)

    def update(i, x, ds):
        if len(ds) == 1:
            return x + (sigmas[i + 1] - sigmas[i]) * ds[0]
        weights = deis_weights(t, i, len(ds), beta_0, beta_1)
        return x + sum(w.to(x) * d for w, d in zip(weights, ds))

    return _walk(model, x, sigmas, extra_args, callback, max_order, update)
