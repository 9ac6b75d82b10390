"""Schedules against k-diffusion, diffusers' timestep spacings and the formulas ComfyUI documents."""

import math

import numpy as np
import pytest
import torch

from engine.sampling.model_sampling import DiscreteModelSampling, EDMModelSampling
from engine.sampling.schedules import SCHEDULERS, calculate_sigmas

# diffusers (an oracle here) trips a numpy 2 deprecation on every scheduler setup
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

MS = DiscreteModelSampling()


def table_sigma(t: float) -> float:
    """An independent sigma(t): the DDPM table in float64, log-linear between integer timesteps."""
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=np.float64) ** 2
    abar = np.cumprod(1 - betas)
    log_sigmas = np.log(((1 - abar) / abar) ** 0.5)
    return float(np.exp(np.interp(t, np.arange(1000), log_sigmas)))


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.parametrize("steps", [1, 3, 10, 25])
def test_every_schedule_descends_to_a_trailing_zero(name, steps):
    sigmas = SCHEDULERS[name](MS, steps)
    assert sigmas.dtype == torch.float32
    assert sigmas[-1] == 0 and (sigmas[:-1] > 0).all()
    assert (sigmas[1:] < sigmas[:-1]).all()
    expected = steps + 1 if name != "beta" else None  # beta merges duplicate timesteps
    assert expected is None or len(sigmas) == expected


@pytest.mark.parametrize("steps", [1, 7, 20])
def test_karras_and_exponential_equal_k_diffusion(kd, steps):
    lo, hi = float(MS.sigma_min), float(MS.sigma_max)
    torch.testing.assert_close(SCHEDULERS["karras"](MS, steps), kd.get_sigmas_karras(steps, lo, hi))
    torch.testing.assert_close(SCHEDULERS["exponential"](MS, steps), kd.get_sigmas_exponential(steps, lo, hi))


def test_model_sigma_table_equals_diffusers_scaled_linear():
    from diffusers import DDPMScheduler

    abar = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).alphas_cumprod
    # diffusers accumulates the product in float32, Loom (like ComfyUI) in float64
    torch.testing.assert_close(MS.sigmas, ((1 - abar) / abar) ** 0.5, rtol=1e-4, atol=0)
    assert math.isclose(float(MS.sigma_min), 0.0292, abs_tol=1e-4)
    assert math.isclose(float(MS.sigma_max), 14.6146, abs_tol=1e-4)


def test_normal_is_uniform_in_timestep_and_equals_diffusers_linspace_on_integer_timesteps():
    from diffusers import EulerDiscreteScheduler

    steps = 10  # 999 / (steps - 1) is an integer, where diffusers' linear interpolation is exact
    sched = EulerDiscreteScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                   timestep_spacing="linspace")
    sched.set_timesteps(steps)
    torch.testing.assert_close(SCHEDULERS["normal"](MS, steps), sched.sigmas.float(), rtol=1e-4, atol=0)
    expected = [table_sigma(t) for t in np.linspace(999, 0, 7)] + [0.0]
    torch.testing.assert_close(SCHEDULERS["normal"](MS, 7), torch.tensor(expected, dtype=torch.float32),
                               rtol=1e-5, atol=0)


def test_sgm_uniform_drops_the_last_of_steps_plus_one_points():
    expected = [table_sigma(t) for t in np.linspace(999, 0, 9)[:-1]] + [0.0]
    torch.testing.assert_close(SCHEDULERS["sgm_uniform"](MS, 8), torch.tensor(expected, dtype=torch.float32),
                               rtol=1e-5, atol=0)


def test_simple_takes_every_kth_table_entry_from_the_top():
    sigmas = SCHEDULERS["simple"](MS, 4)
    assert sigmas.tolist() == [MS.sigmas[i].item() for i in (999, 749, 499, 249)] + [0.0]


def test_ddim_uniform_equals_diffusers_leading_timesteps():
    from diffusers import DDIMScheduler

    sched = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                          timestep_spacing="leading", steps_offset=1)
    sched.set_timesteps(20)
    assert SCHEDULERS["ddim_uniform"](MS, 20)[:-1].tolist() == MS.sigmas[sched.timesteps].tolist()


def test_beta_with_alpha_beta_one_is_uniform_in_timestep():
    from engine.sampling.schedules import beta

    steps = 8
    expected = [MS.sigmas[round((1 - i / steps) * 999)].item() for i in range(steps)] + [0.0]
    assert beta(MS, steps, alpha=1.0, beta_=1.0).tolist() == pytest.approx(expected)


def test_beta_default_spends_more_steps_at_both_ends():
    ts = [int(MS.timestep(s)) for s in SCHEDULERS["beta"](MS, 20)[:-1]]
    gaps = np.diff(ts)
    assert ts[0] == 999 and abs(gaps[0]) < abs(gaps[len(gaps) // 2]) > abs(gaps[-1])


def test_kl_optimal_is_uniform_in_arctan_sigma():
    sigmas = SCHEDULERS["kl_optimal"](MS, 6)[:-1].double()
    gaps = np.diff(np.arctan(sigmas.numpy()))
    assert np.allclose(gaps, gaps[0], rtol=1e-5)
    assert math.isclose(sigmas[0], float(MS.sigma_max), rel_tol=1e-6)


def test_linear_quadratic_starts_at_sigma_max_and_is_linear_for_half_the_steps():
    sigmas = SCHEDULERS["linear_quadratic"](MS, 10)
    levels = (sigmas / MS.sigma_max).double().numpy()
    assert len(sigmas) == 11 and levels[0] == 1.0 and sigmas[-1] == 0
    assert np.allclose(np.diff(levels[:6]), -0.025 / 5, rtol=0, atol=1e-6)
    assert not np.allclose(np.diff(levels[5:-1]), np.diff(levels[5:-1])[0], rtol=0.05)


@pytest.mark.parametrize("sampler", ["dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"])
def test_midpoint_samplers_drop_the_penultimate_sigma(sampler):
    longer = SCHEDULERS["karras"](MS, 11)
    sigmas = calculate_sigmas(MS, "karras", 10, sampler)
    assert len(sigmas) == 11
    assert torch.equal(sigmas, torch.cat([longer[:-2], longer[-1:]]))
    assert torch.equal(calculate_sigmas(MS, "karras", 10, "euler"), SCHEDULERS["karras"](MS, 10))


def test_edm_normal_schedule_is_uniform_in_log_sigma_between_0002_and_700():
    edm = EDMModelSampling()
    sigmas = SCHEDULERS["normal"](edm, 5)[:-1].double()
    expected = np.exp(np.linspace(math.log(700.0), math.log(0.002), 5))
    assert np.allclose(sigmas.numpy(), expected, rtol=1e-5)


def test_unknown_scheduler_names_the_choices():
    with pytest.raises(ValueError, match="karras"):
        calculate_sigmas(MS, "karas", 10)
