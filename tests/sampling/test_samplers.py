"""Every sampler on every schedule against k-diffusion / diffusers on a denoiser with a known answer."""

import math
from contextlib import contextmanager

import pytest
import torch

from engine.sampling.model_sampling import DiscreteModelSampling
from engine.sampling.noise import BrownianTreeNoiseSampler, seeded_brownian
from engine.sampling.samplers import SAMPLERS
from engine.sampling.schedules import SCHEDULERS, calculate_sigmas

# diffusers (an oracle here) trips a numpy 2 deprecation on every scheduler setup
pytestmark = [pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning"),
              # k-diffusion's DPM-Solver entry points copy the sigma tensors they are given with torch.tensor
              pytest.mark.filterwarnings("ignore:To copy construct from a tensor:UserWarning")]

# lms is left out: ComfyUI's (the specification, see test_comfy_parity) ends on the x0 estimate.
K_DIFFUSION_NAMES = ["euler", "euler_ancestral", "heun", "dpm_2", "dpm_2_ancestral",
                     "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m", "dpmpp_2m_sde", "dpmpp_3m_sde"]
MS = DiscreteModelSampling()


@contextmanager
def float64_default():
    """k-diffusion's DPM-Solver builds its times with the default dtype: float64 so both run in one precision."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def keyed_noise(shape):
    """Noise that depends only on the step (sigma, sigma_next), so call order cannot matter."""

    def sample(sigma, sigma_next):
        seed = int(float(sigma) * 1e6) ^ int(float(sigma_next) * 1e9)
        return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)

    return sample


def start(toy, sigmas):
    return torch.randn(toy.mu.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * sigmas[0]


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
@pytest.mark.parametrize("name", K_DIFFUSION_NAMES)
def test_sampler_equals_k_diffusion(kd, toy, name, scheduler):
    sigmas = calculate_sigmas(MS, scheduler, 8, name).double()
    x = start(toy, sigmas)
    kwargs = {"noise_sampler": keyed_noise(x.shape)} if ("ancestral" in name or "sde" in name) else {}
    ours = SAMPLERS[name](toy, x.clone(), sigmas, **kwargs)
    theirs = getattr(kd, f"sample_{name}")(toy, x.clone(), sigmas, disable=True, **kwargs)
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


def flow(toy, x, sigma_from, sigma_to):
    """Gaussian data: the probability-flow ODE moves x to mu + (x - mu) * sqrt((s^2 + sigma_to^2) / (s^2 + sigma_from^2))."""
    return toy.mu + (x - toy.mu) * math.sqrt((toy.s2 + sigma_to**2) / (toy.s2 + sigma_from**2))


# Error allowed after 100 karras steps, by order of the method; uni_pc stops at sigma 0.001 like ComfyUI,
# the others jump from the last sigma to its denoised estimate.
CONVERGENCE = {"euler": 5e-2, "ddim": 5e-2, "heun": 2e-3, "dpm_2": 2e-3, "dpmpp_2m": 2e-3, "lms": 1e-4,
               "uni_pc": 5e-3, "uni_pc_bh2": 5e-3}


@pytest.mark.parametrize("name", sorted(CONVERGENCE))
def test_deterministic_samplers_converge_to_the_exact_ode_solution(toy, name):
    sigmas = calculate_sigmas(MS, "karras", 100, name).double()
    x = start(toy, sigmas)
    out = SAMPLERS[name](toy, x.clone(), sigmas)
    first, last = float(sigmas[0]), float(sigmas[-2])
    if name.startswith("uni_pc"):
        exact = flow(toy, x, first, 0.001)
    else:
        exact = toy(flow(toy, x, first, last), sigmas[-2].expand(x.shape[0]))
    assert (out - exact).abs().max() < CONVERGENCE[name]


def test_ddim_equals_diffusers_ddim_scheduler(toy):
    from diffusers import DDIMScheduler

    steps = 10
    sched = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                          timestep_spacing="leading", steps_offset=1, set_alpha_to_one=True, clip_sample=False)
    sched.set_timesteps(steps)
    sigmas = SCHEDULERS["ddim_uniform"](MS, steps).double()
    abar = sched.alphas_cumprod.double()
    assert torch.equal(MS.sigmas[sched.timesteps], SCHEDULERS["ddim_uniform"](MS, steps)[:-1])
    x = start(toy, sigmas)
    ours = SAMPLERS["ddim"](toy, x.clone(), sigmas)

    sample = x / (1 + sigmas[0] ** 2) ** 0.5  # variance-preserving scaling at the first step
    for t in sched.timesteps:
        a = abar[t]
        sigma = ((1 - a) / a) ** 0.5
        x_ve = sample / a**0.5
        eps = (x_ve - toy(x_ve, sigma.reshape(1).expand(x.shape[0]))) / sigma
        sample = sched.step(eps, t, sample, eta=0.0).prev_sample
    torch.testing.assert_close(ours, sample, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
@pytest.mark.parametrize("variant", ["bh1", "bh2"])
@pytest.mark.parametrize("steps", [2, 3, 6, 12])
def test_uni_pc_equals_diffusers_unipc(toy, scheduler, variant, steps):
    from diffusers import UniPCMultistepScheduler

    to_zero = calculate_sigmas(MS, scheduler, steps, "uni_pc").double()
    steps = len(to_zero) - 1  # beta may merge steps
    sigmas = to_zero.clone()
    sigmas[-1] = 0.001  # uni_pc (like ComfyUI's) stops at 0.001 when asked for 0: log-SNR must stay finite
    sched = UniPCMultistepScheduler(solver_order=3, solver_type=variant, predict_x0=True, lower_order_final=True,
                                    final_sigmas_type="sigma_min", prediction_type="epsilon")
    sched.set_timesteps(steps)
    sched.sigmas, sched.timesteps = sigmas.clone(), torch.arange(steps, 0, -1)  # the same sigmas, run by index
    x = start(toy, sigmas)
    ours = SAMPLERS["uni_pc" if variant == "bh1" else "uni_pc_bh2"](toy, x.clone(), to_zero)

    sample = x / (1 + sigmas[0] ** 2) ** 0.5
    for i, t in enumerate(sched.timesteps):
        sigma = sigmas[i]
        x_ve = sample * (1 + sigma**2) ** 0.5
        eps = (x_ve - toy(x_ve, sigma.reshape(1).expand(x.shape[0]))) / sigma
        sample = sched.step(eps, t, sample).prev_sample
    theirs = sample * (1 + sigmas[-1] ** 2) ** 0.5
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_lcm_jumps_to_the_estimate_and_renoises(toy, scheduler):
    sigmas = SCHEDULERS[scheduler](MS, 4).double()
    x = start(toy, sigmas)
    noise = keyed_noise(x.shape)
    expected = x
    for i in range(len(sigmas) - 1):
        expected = toy(expected, sigmas[i].reshape(1).expand(x.shape[0]))
        if sigmas[i + 1] > 0:
            expected = expected + noise(sigmas[i], sigmas[i + 1]) * sigmas[i + 1]
    torch.testing.assert_close(SAMPLERS["lcm"](toy, x, sigmas, noise_sampler=noise), expected)


def test_brownian_noise_equals_k_diffusion_tree_for_a_seed(kd):
    x = torch.zeros(2, 4, 3, 3)
    sigmas = SCHEDULERS["karras"](MS, 6)
    ours = seeded_brownian(x, sigmas, {"seed": 123})
    theirs = kd.BrownianTreeNoiseSampler(x, sigmas[sigmas > 0].min(), sigmas.max(), seed=123)
    for i in range(5):
        torch.testing.assert_close(ours(sigmas[i], sigmas[i + 1]), theirs(sigmas[i], sigmas[i + 1]))
    assert isinstance(ours, BrownianTreeNoiseSampler)


@pytest.mark.parametrize("name", ["euler_ancestral", "dpmpp_2m_sde", "dpmpp_sde", "lcm"])
def test_stochastic_samplers_are_deterministic_for_a_seed(toy, name):
    sigmas = SCHEDULERS["karras"](MS, 5).double()
    x = start(toy, sigmas)
    runs = [SAMPLERS[name](toy, x.clone(), sigmas, extra_args={"seed": seed}) for seed in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.allclose(runs[0], runs[2])


def test_callback_reports_each_step(toy):
    sigmas = SCHEDULERS["normal"](MS, 5).double()
    seen = []
    SAMPLERS["heun"](toy, start(toy, sigmas), sigmas, callback=lambda info: seen.append(info))
    assert [s["i"] for s in seen] == list(range(5))
    assert all(torch.equal(s["sigma"], sigmas[s["i"]]) for s in seen)
    assert {"x", "denoised"} <= seen[0].keys()


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
@pytest.mark.parametrize("steps", [2, 3, 4, 8, 10])  # one step spans no time (ComfyUI stops at sigmas[-2])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_dpm_fast_equals_k_diffusion(kd, toy, scheduler, steps, eta):
    sigmas = calculate_sigmas(MS, scheduler, steps, "dpm_fast").double()
    x = start(toy, sigmas)
    noise = keyed_noise(x.shape)
    ours = SAMPLERS["dpm_fast"](toy, x.clone(), sigmas, noise_sampler=noise, eta=eta)
    sigma_min = sigmas[-2] if sigmas[-1] == 0 else sigmas[-1]  # how ComfyUI calls it
    with float64_default():
        theirs = kd.sample_dpm_fast(toy, x.clone(), sigma_min, sigmas[0], len(sigmas) - 1, disable=True,
                                    noise_sampler=noise, eta=eta)
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_dpm_adaptive_equals_k_diffusion(kd, toy, scheduler, order, eta):
    sigmas = calculate_sigmas(MS, scheduler, 8, "dpm_adaptive").double()
    x = start(toy, sigmas)
    noise = keyed_noise(x.shape)
    ours = SAMPLERS["dpm_adaptive"](toy, x.clone(), sigmas, noise_sampler=noise, order=order, eta=eta)
    sigma_min = sigmas[-2] if sigmas[-1] == 0 else sigmas[-1]
    with float64_default():
        theirs = kd.sample_dpm_adaptive(toy, x.clone(), sigma_min, sigmas[0], disable=True, noise_sampler=noise,
                                        order=order, eta=eta)
    torch.testing.assert_close(ours, theirs, rtol=1e-9, atol=1e-9)


def test_dpm_adaptive_ignores_the_number_of_steps(toy):
    runs = []
    for steps in (5, 30):
        sigmas = SCHEDULERS["exponential"](MS, steps).double()  # same ends for any number of steps
        runs.append(SAMPLERS["dpm_adaptive"](toy, start(toy, sigmas), sigmas))
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["dpm_fast", "dpm_adaptive"])
def test_dpm_solvers_reach_the_exact_ode_solution_at_the_last_positive_sigma(toy, name):
    sigmas = calculate_sigmas(MS, "karras", 30, name).double()
    x = start(toy, sigmas)
    out = SAMPLERS[name](toy, x.clone(), sigmas, rtol=1e-4, atol=1e-5) if name == "dpm_adaptive" else \
        SAMPLERS[name](toy, x.clone(), sigmas)
    exact = flow(toy, x, float(sigmas[0]), float(sigmas[-2]))
    assert (out - exact).abs().max() < 1e-3


def test_ksampler_sampler_name_combo_lists_every_sampler():
    from typing import get_args

    from nodes.sampling import SamplerName

    (combo,) = get_args(SamplerName)[1:]
    assert list(combo.options(None)) == list(SAMPLERS)  # listed live: node packs may register samplers


def error_at_last_positive_sigma(toy, name, sigmas):
    """Max error against the exact ODE solution carried to the last positive sigma and denoised there."""
    x = start(toy, sigmas)
    out = SAMPLERS[name](toy, x.clone(), sigmas)
    return float((out - toy(flow(toy, x, float(sigmas[0]), float(sigmas[-2])), sigmas[-2].expand(x.shape[0])))
                 .abs().max())


# Error ratio when doubling karras steps from 40 to 80 (measured: heunpp2 2.0, first order like euler, its
# blend of derivatives is not a second-order rule; ipndm 4.2, second order, its equal-step weights lose the
# higher orders to its Euler start and to unequal steps).
@pytest.mark.parametrize(("name", "min_ratio", "max_error_80"), [("heunpp2", 1.8, 4e-2), ("ipndm", 3.5, 1e-3)])
def test_heunpp2_and_ipndm_converge_at_their_order(toy, name, min_ratio, max_error_80):
    errors = [error_at_last_positive_sigma(toy, name, calculate_sigmas(MS, "karras", n, name).double())
              for n in (40, 80)]
    assert errors[1] < max_error_80
    assert errors[0] / errors[1] > min_ratio


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_ipndm_weights_integrate_polynomials_of_their_degree_exactly(order):
    """Adams-Bashforth on equal steps: sum_k w_k p(-k) = integral of p over [0, 1] for degree < order."""
    from engine.sampling.samplers_multistep import ADAMS_BASHFORTH

    for degree in range(order):
        quadrature = sum(w * (-k) ** degree for k, w in enumerate(ADAMS_BASHFORTH[order]))
        assert quadrature == pytest.approx(1 / (degree + 1), abs=1e-12)


def test_ipndm_with_one_derivative_is_euler(toy):
    sigmas = SCHEDULERS["karras"](MS, 6).double()
    x = start(toy, sigmas)
    torch.testing.assert_close(SAMPLERS["ipndm"](toy, x.clone(), sigmas, max_order=1),
                               SAMPLERS["euler"](toy, x.clone(), sigmas), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("scheduler", sorted(SCHEDULERS))
def test_ddpm_equals_the_posterior_of_ho_et_al(toy, scheduler):
    """Independent check in the variance-preserving frame: x_prev = mean(x_t, x0) + sqrt(beta-tilde) * z with
    the posterior mean written from x0 (Ho et al. 2020, eq. 7), alpha-bar = 1 / (1 + sigma^2)."""
    sigmas = SCHEDULERS[scheduler](MS, 6).double()
    x = start(toy, sigmas)
    noise = keyed_noise(x.shape)
    ours = SAMPLERS["ddpm"](toy, x.clone(), sigmas, noise_sampler=noise)

    z = x / (1 + sigmas[0] ** 2) ** 0.5
    for i in range(len(sigmas) - 1):
        abar, abar_prev = 1 / (1 + sigmas[i] ** 2), 1 / (1 + sigmas[i + 1] ** 2)
        beta = 1 - abar / abar_prev
        x0 = toy(z / abar**0.5, sigmas[i].expand(x.shape[0]))
        z = (abar_prev**0.5 * beta * x0 + (1 - beta) ** 0.5 * (1 - abar_prev) * z) / (1 - abar)
        if sigmas[i + 1] > 0:
            z = z + ((1 - abar_prev) / (1 - abar) * beta) ** 0.5 * noise(sigmas[i], sigmas[i + 1])
    torch.testing.assert_close(ours, z / abar_prev**0.5, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["ddpm", "dpm_fast", "dpm_adaptive"])
def test_new_samplers_are_deterministic_for_a_seed(toy, name):
    sigmas = SCHEDULERS["karras"](MS, 5).double()
    x = start(toy, sigmas)
    kwargs = {} if name == "ddpm" else {"eta": 1.0}
    runs = [SAMPLERS[name](toy, x.clone(), sigmas, extra_args={"seed": seed}, **kwargs) for seed in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.allclose(runs[0], runs[2])
