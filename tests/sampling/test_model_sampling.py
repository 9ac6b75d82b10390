"""Prediction types and sigma parametrisations: eps, v (SD2-768) and EDM v (SVD) against diffusers."""

import math

import pytest
import torch

from engine.sampling.model_sampling import DiscreteModelSampling, EDMModelSampling, model_sampling_for
from engine.sampling.samplers import SAMPLERS
from engine.sampling.schedules import SCHEDULERS

# diffusers (an oracle here) trips a numpy 2 deprecation on every scheduler setup
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

GEN = torch.Generator().manual_seed(3)
X0 = torch.randn(2, 4, 5, 5, generator=GEN)
EPS = torch.randn(2, 4, 5, 5, generator=GEN)


def test_timestep_is_the_nearest_table_entry_and_sigma_interpolates_in_log_space():
    ms = DiscreteModelSampling()
    ts = torch.tensor([0, 1, 500, 999])
    assert torch.equal(ms.timestep(ms.sigmas[ts]), ts.float())
    assert ms.timestep(ms.sigmas[10] * 1.001) == 10
    half = ms.sigma(torch.tensor(10.5))
    assert math.isclose(float(half), math.sqrt(float(ms.sigmas[10] * ms.sigmas[11])), rel_tol=1e-5)


def test_eps_prediction_recovers_x0_and_scales_input_like_diffusers():
    from diffusers import DDPMScheduler

    ms = model_sampling_for("eps")
    abar = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012).alphas_cumprod
    t = torch.tensor([100, 700])
    sigma = ms.sigmas[t]
    x = X0 + EPS * sigma.reshape(-1, 1, 1, 1)
    torch.testing.assert_close(ms.calculate_denoised(sigma, EPS, x), X0)
    vp = abar[t].sqrt().reshape(-1, 1, 1, 1) * X0 + (1 - abar[t]).sqrt().reshape(-1, 1, 1, 1) * EPS
    torch.testing.assert_close(ms.calculate_input(sigma, x), vp, rtol=1e-4, atol=1e-4)


def test_v_prediction_recovers_x0_from_diffusers_velocity_target():
    from diffusers import DDPMScheduler

    ms = model_sampling_for("v")
    sched = DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                          prediction_type="v_prediction")
    t = torch.tensor([50, 900])
    v = sched.get_velocity(X0, EPS, t)
    sigma = ms.sigmas[t]
    x = X0 + EPS * sigma.reshape(-1, 1, 1, 1)
    torch.testing.assert_close(ms.calculate_denoised(sigma, v, x), X0, rtol=1e-4, atol=1e-4)


def test_edm_parametrisation_matches_svd_preconditioning():
    ms = model_sampling_for("v_edm")
    assert isinstance(ms, EDMModelSampling) and ms.prediction == "v"
    assert math.isclose(float(ms.sigma_min), 0.002, rel_tol=1e-5)
    assert math.isclose(float(ms.sigma_max), 700.0, rel_tol=1e-5)
    sigma = torch.tensor([0.01, 80.0])
    assert torch.allclose(ms.timestep(sigma), 0.25 * sigma.log())
    assert torch.allclose(ms.sigma(ms.timestep(sigma)), sigma)
    s = sigma.reshape(-1, 1, 1, 1)
    x = X0 + EPS * s
    c_skip, c_out = 1 / (s**2 + 1), -s / (s**2 + 1) ** 0.5
    v = (x * c_skip - X0) / -c_out  # the v target whose preconditioned output is X0
    torch.testing.assert_close(ms.calculate_denoised(sigma, v, x), X0)
    torch.testing.assert_close(ms.calculate_input(sigma, x), x / (s**2 + 1) ** 0.5)


def test_svd_euler_equals_diffusers_euler_with_continuous_v_prediction():
    from diffusers import EulerDiscreteScheduler

    ms = EDMModelSampling()
    steps = 6
    sched = EulerDiscreteScheduler(prediction_type="v_prediction", timestep_type="continuous",
                                   use_karras_sigmas=True, sigma_min=0.002, sigma_max=700.0)
    sched.set_timesteps(steps)
    sigmas = SCHEDULERS["karras"](ms, steps)
    torch.testing.assert_close(sigmas, sched.sigmas.float(), rtol=1e-4, atol=0)
    torch.testing.assert_close(ms.timestep(sigmas[:-1]), sched.timesteps.float(), rtol=1e-4, atol=1e-5)

    def network(x_in, t):  # a smooth stand-in "UNet" on the scaled input
        return torch.tanh(x_in) * 0.5 + 0.1 * t.reshape(-1, 1, 1, 1)

    def denoiser(x, sigma):
        return ms.calculate_denoised(sigma, network(ms.calculate_input(sigma, x), ms.timestep(sigma)), x)

    x = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(0)) * sigmas[0]
    ours = SAMPLERS["euler"](denoiser, x.clone(), sigmas)
    sample = x.clone()
    for t in sched.timesteps:
        model_in = sched.scale_model_input(sample, t)
        sample = sched.step(network(model_in, t.expand(2)), t, sample).prev_sample
    torch.testing.assert_close(ours, sample, rtol=1e-4, atol=1e-4)


def test_percent_to_sigma_spans_the_schedule():
    for ms in (DiscreteModelSampling(), EDMModelSampling()):
        assert ms.percent_to_sigma(0.0) > 1e8 and ms.percent_to_sigma(1.0) == 0.0
        assert math.isclose(ms.percent_to_sigma(1e-9), float(ms.sigma_max), rel_tol=1e-3)
        assert ms.percent_to_sigma(0.3) > ms.percent_to_sigma(0.6) > 0
    assert math.isclose(EDMModelSampling().percent_to_sigma(0.5), math.sqrt(0.002 * 700), rel_tol=1e-5)


def test_noise_scaling_for_img2img_and_full_denoise():
    ms = DiscreteModelSampling()
    sigma = torch.tensor(3.0)
    torch.testing.assert_close(ms.noise_scaling(sigma, EPS, X0), X0 + 3.0 * EPS)
    torch.testing.assert_close(ms.noise_scaling(sigma, EPS, X0, max_denoise=True), X0 + math.sqrt(10) * EPS)
    assert torch.equal(ms.inverse_noise_scaling(sigma, X0), X0)


def test_unknown_prediction_type_is_an_error():
    with pytest.raises(ValueError, match="prediction"):
        DiscreteModelSampling("x0")
