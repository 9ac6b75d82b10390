"""KSampler semantics: seed and noise convention, img2img, step ranges (base -> refiner), inpainting."""

import pytest
import torch

from engine.sampling import prepare_noise, sample
from engine.sampling.cfg_patches import video_linear_cfg
from engine.sampling.ksampler import schedule_for
from engine.sampling.model_sampling import DiscreteModelSampling, EDMModelSampling, model_sampling_for
from engine.sampling.model_wrapper import SamplingModel
from engine.sampling.schedules import calculate_sigmas


class Net:
    """A smooth stand-in network that records its inputs and timesteps."""

    def __init__(self):
        self.inputs, self.timesteps = [], []

    def apply(self, x, timestep, context, y=None, control=None, **kw):
        self.inputs.append(x.clone())
        self.timesteps.append(timestep.clone())
        return torch.tanh(x * context.mean(dim=(1, 2)).reshape(-1, 1, 1, 1)) * 0.8


def make_model(parametrisation="eps"):
    return SamplingModel(Net(), model_sampling_for(parametrisation))


POS, NEG = [[torch.full((1, 77, 8), 1.0), {}]], [[torch.full((1, 77, 8), 0.3), {}]]
EMPTY = {"samples": torch.zeros(2, 4, 8, 8)}
IMAGE = {"samples": torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(5))}


def run(model, seed=1, steps=6, sampler="euler", scheduler="karras", latent=EMPTY, **kw):
    return sample(model, seed, steps, 5.0, sampler, scheduler, POS, NEG, latent, **kw)["samples"]


def test_noise_is_one_cpu_randn_for_the_whole_batch():
    latent = torch.zeros(3, 4, 8, 8)
    assert torch.equal(prepare_noise(latent, 42), torch.randn(3, 4, 8, 8, generator=torch.manual_seed(42)))


def test_batch_index_reproduces_one_picture_of_a_batch():
    batch = prepare_noise(torch.zeros(3, 4, 8, 8), 7, [0, 1, 2])
    assert torch.equal(prepare_noise(torch.zeros(1, 4, 8, 8), 7, [2]), batch[2:3])
    assert torch.equal(prepare_noise(torch.zeros(2, 4, 8, 8), 7, [1, 1]), batch[[1, 1]])


def test_first_network_input_at_full_denoise_is_the_seeded_noise():
    model = make_model()
    run(model, seed=123)
    noise = torch.randn(2, 4, 8, 8, generator=torch.manual_seed(123))
    first = model.diffusion_model.inputs[0]
    assert first.shape[0] == 4  # cond and uncond in one call
    torch.testing.assert_close(first[:2], noise)


def test_same_seed_same_latent_and_different_seed_differs():
    model = make_model()
    assert torch.equal(run(model, seed=3), run(model, seed=3))
    assert not torch.allclose(run(model, seed=3), run(model, seed=4))
    for name in ("euler_ancestral", "dpmpp_2m_sde", "uni_pc"):
        assert torch.equal(run(model, seed=3, sampler=name), run(model, seed=3, sampler=name))


def test_one_batched_network_call_per_euler_step():
    model = make_model()
    run(model, steps=5)
    assert [x.shape[0] for x in model.diffusion_model.inputs] == [4] * 5


@pytest.mark.parametrize("sampler", ["euler", "heun", "dpm_2"])
def test_base_to_refiner_hand_off_equals_one_continuous_run(sampler):
    model = make_model()
    whole = run(model, steps=10, sampler=sampler, latent=IMAGE)
    base = sample(model, 9, 10, 5.0, sampler, "karras", POS, NEG, IMAGE, last_step=7, force_full_denoise=False)
    refined = sample(model, 9, 10, 5.0, sampler, "karras", POS, NEG, base, add_noise=False, start_step=7)
    torch.testing.assert_close(refined["samples"], run(model, seed=9, steps=10, sampler=sampler, latent=IMAGE),
                               rtol=1e-5, atol=1e-5)
    assert not torch.allclose(whole, refined["samples"])  # a different seed would not match


def test_hand_off_visits_exactly_the_continuous_schedule():
    model = make_model("v_edm")  # continuous timesteps: the network sees sigma itself (t = log(sigma)/4)
    sigmas = calculate_sigmas(model.model_sampling, "karras", 8)
    base = sample(model, 1, 8, 5.0, "euler", "karras", POS, NEG, EMPTY, last_step=5, force_full_denoise=False)
    sample(model, 1, 8, 5.0, "euler", "karras", POS, NEG, base, add_noise=False, start_step=5)
    seen = torch.stack([t[0] for t in model.diffusion_model.timesteps]).mul(4).exp()
    torch.testing.assert_close(seen, sigmas[:-1], rtol=1e-5, atol=0)


def test_leftover_noise_is_kept_only_when_asked():
    model = make_model()
    states = {}
    run(model, seed=2, steps=10, callback=lambda i, total, x0, x: states.setdefault(i, x))
    keep = sample(model, 2, 10, 5.0, "euler", "karras", POS, NEG, EMPTY, last_step=4, force_full_denoise=False)
    full = sample(model, 2, 10, 5.0, "euler", "karras", POS, NEG, EMPTY, last_step=4, force_full_denoise=True)
    torch.testing.assert_close(keep["samples"], states[4])  # the continuous run's x at sigma_4
    assert not torch.allclose(full["samples"], states[4])


def test_denoise_keeps_the_tail_of_a_longer_schedule():
    ms = DiscreteModelSampling()
    model = SamplingModel(Net(), ms)
    torch.testing.assert_close(schedule_for(model, 10, "karras", "euler", 0.5),
                               calculate_sigmas(ms, "karras", 20)[-11:])
    assert torch.equal(sample(model, 1, 10, 5.0, "euler", "karras", POS, NEG, IMAGE, denoise=0.0)["samples"],
                       IMAGE["samples"])


def test_img2img_starts_from_the_latent_noised_to_the_first_sigma():
    model = make_model("v_edm")
    run(model, seed=4, steps=5, latent=IMAGE, denoise=0.4)
    sigma0 = float(calculate_sigmas(model.model_sampling, "karras", 12)[-6])
    noise = torch.randn(2, 4, 8, 8, generator=torch.manual_seed(4))
    expected = (IMAGE["samples"] + sigma0 * noise) / (sigma0**2 + 1) ** 0.5
    torch.testing.assert_close(model.diffusion_model.inputs[0][:2], expected, rtol=1e-5, atol=1e-5)


def test_add_noise_disabled_ignores_the_seed():
    model = make_model()
    assert torch.equal(run(model, seed=1, latent=IMAGE, add_noise=False),
                       run(model, seed=2, latent=IMAGE, add_noise=False))


def test_inpainting_keeps_the_unmasked_region_of_the_original():
    model = make_model()
    mask = torch.zeros(1, 64, 64)
    mask[:, :, 32:] = 1.0  # repaint the right half (mask at image resolution)
    out = run(model, latent={**IMAGE, "noise_mask": mask}, sampler="dpmpp_2m")
    torch.testing.assert_close(out[..., :3], IMAGE["samples"][..., :3], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out[..., 5:], IMAGE["samples"][..., 5:])


def test_start_step_past_the_end_returns_the_latent():
    out = sample(make_model(), 1, 6, 5.0, "euler", "karras", POS, NEG, IMAGE, start_step=6)
    assert torch.equal(out["samples"], IMAGE["samples"])


def test_progress_each_step_and_interrupt_through_the_callback():
    steps = []
    run(make_model(), steps=4, callback=lambda i, total, x0, x: steps.append((i, total, x0.shape)))
    assert steps == [(i, 4, torch.Size([2, 4, 8, 8])) for i in range(4)]

    def interrupt(i, total, x0, x):
        if i == 1:
            raise KeyboardInterrupt

    model = make_model()
    with pytest.raises(KeyboardInterrupt):
        run(model, steps=4, callback=interrupt)
    assert len(model.diffusion_model.inputs) == 2


def test_svd_frames_sample_with_a_per_frame_cfg_ramp():
    net = Net()
    model = SamplingModel(net, EDMModelSampling(), model_options={"sampler_cfg_function": video_linear_cfg(1.0)})
    frames = {"samples": torch.zeros(4, 4, 8, 8)}
    out = sample(model, 0, 3, 2.5, "euler", "karras", POS, NEG, frames)["samples"]
    assert out.shape == (4, 4, 8, 8) and torch.isfinite(out).all()
    assert len(net.inputs) == 3 and net.inputs[0].shape[0] == 8


def test_unknown_sampler_names_the_choices():
    with pytest.raises(ValueError, match="euler_ancestral"):
        run(make_model(), sampler="euler_a")


def test_latents_enter_model_space_scaled_and_leave_unscaled():
    net = Net()
    model = SamplingModel(net, model_sampling_for("eps"), latent_scale=0.5)
    sigmas = calculate_sigmas(model.model_sampling, "karras", 3)
    out = sample(model, 0, 3, 1.0, "euler", "karras", POS, NEG, IMAGE, add_noise=False, last_step=1,
                 force_full_denoise=False)
    expected = 0.5 * IMAGE["samples"] / (1 + sigmas[0] ** 2) ** 0.5
    torch.testing.assert_close(net.inputs[0], expected)
    x_model = 0.5 * IMAGE["samples"]
    x0 = model.model_sampling.calculate_denoised(sigmas[0], net.apply(expected, torch.zeros(2), POS[0][0]), x_model)
    x1 = x_model + (x_model - x0) / sigmas[0] * (sigmas[1] - sigmas[0])
    torch.testing.assert_close(out["samples"], x1 / 0.5)
