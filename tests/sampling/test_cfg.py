"""Classifier-free guidance: batching, the guidance formula, areas, masks, timestep ranges, ControlNet hook."""

import pytest
import torch

from engine.sampling.cfg import Control, prepare_conds, sampling_function
from engine.sampling.cfg_patches import video_linear_cfg
from engine.sampling.model_sampling import DiscreteModelSampling
from engine.sampling.model_wrapper import SamplingModel

B, SHAPE = 2, (2, 4, 16, 16)


class RecordingNet:
    """A stand-in network: output depends on the input, the context and any control residual."""

    def __init__(self):
        self.calls = []

    def apply(self, x, timestep, context, y=None, control=None, **kw):
        self.calls.append({"batch": x.shape[0], "context": tuple(context.shape), "control": control})
        out = torch.tanh(x) * context.mean(dim=(1, 2)).reshape(-1, 1, 1, 1)
        return out + (control["middle"][0] if control else 0)


def ctx(value: float, tokens: int = 77) -> torch.Tensor:
    return torch.full((1, tokens, 8), value)


@pytest.fixture
def net():
    return RecordingNet()


@pytest.fixture
def model(net):
    return SamplingModel(net, DiscreteModelSampling())


def CFGDenoiser(model, positive, negative, cfg, shape, device):
    """The guided x0 one sampler step sees (what CFGGuider.predict_noise computes)."""
    cond, uncond = prepare_conds(model, positive, shape, device), prepare_conds(model, negative, shape, device)
    return lambda x, sigma: sampling_function(model, x, sigma, uncond, cond, cfg, model.model_options)


X = torch.randn(SHAPE, generator=torch.Generator().manual_seed(0))
SIGMA = torch.full((B,), 5.0)


def alone(model, context, x=X, sigma=SIGMA):
    return model.apply_model(x, sigma, context=context.expand(x.shape[0], -1, -1))


def test_cond_and_uncond_run_as_one_batch_and_follow_the_guidance_formula(model, net):
    out = CFGDenoiser(model, [[ctx(1.0), {}]], [[ctx(-0.5), {}]], 7.5, SHAPE, "cpu")(X, SIGMA)
    assert [c["batch"] for c in net.calls] == [2 * B]
    cond, uncond = alone(model, ctx(1.0)), alone(model, ctx(-0.5))
    torch.testing.assert_close(out, uncond + 7.5 * (cond - uncond))


def test_cfg_one_skips_the_negative(model, net):
    out = CFGDenoiser(model, [[ctx(1.0), {}]], [[ctx(-0.5), {}]], 1.0, SHAPE, "cpu")(X, SIGMA)
    assert [c["batch"] for c in net.calls] == [B]
    torch.testing.assert_close(out, alone(model, ctx(1.0)))


def test_per_sample_cfg_tensor_and_video_linear_ramp(model):
    frames = torch.randn(3, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    sigma = torch.full((3,), 2.0)
    cond, uncond = alone(model, ctx(1.0), frames, sigma), alone(model, ctx(0.2), frames, sigma)
    ramp = torch.tensor([1.0, 2.0, 3.0])
    expected = uncond + ramp.reshape(-1, 1, 1, 1) * (cond - uncond)
    tensor_cfg = CFGDenoiser(model, [[ctx(1.0), {}]], [[ctx(0.2), {}]], ramp, frames.shape, "cpu")
    torch.testing.assert_close(tensor_cfg(frames, sigma), expected)
    patched = SamplingModel(model.diffusion_model, model.model_sampling,
                            model_options={"sampler_cfg_function": video_linear_cfg(1.0)})
    ramped = CFGDenoiser(patched, [[ctx(1.0), {}]], [[ctx(0.2), {}]], 3.0, frames.shape, "cpu")
    torch.testing.assert_close(ramped(frames, sigma), expected)


def test_combined_conds_average_and_an_area_fades_in_over_eight_latent_pixels(model, net):
    positive = [[ctx(1.0), {}], [ctx(3.0), {"area": (16, 8, 0, 0), "strength": 1.0}]]
    out = CFGDenoiser(model, positive, [], 1.0, SHAPE, "cpu")(X, SIGMA)
    assert [c["batch"] for c in net.calls] == [B, B]  # different input sizes cannot share a batch
    full = alone(model, ctx(1.0))
    left = alone(model, ctx(3.0), X[..., :8], SIGMA)
    torch.testing.assert_close(out[..., 8:], full[..., 8:])
    for col in range(8):
        w = (8 - col) / 8 if col else 1.0
        expected = (full[..., col] + w * left[..., col]) / (1 + w)
        torch.testing.assert_close(out[..., col], expected)


def test_strength_weights_an_entry_in_the_average(model):
    positive = [[ctx(1.0), {}], [ctx(3.0), {"strength": 0.25}]]
    out = CFGDenoiser(model, positive, [], 1.0, SHAPE, "cpu")(X, SIGMA)
    expected = (alone(model, ctx(1.0)) + 0.25 * alone(model, ctx(3.0))) / 1.25
    torch.testing.assert_close(out, expected)


def test_mask_limits_an_entry_to_its_pixels_at_any_resolution(model):
    mask = torch.zeros(1, 128, 128)
    mask[:, :, :64] = 1.0  # left half at image resolution
    positive = [[ctx(1.0), {}], [ctx(3.0), {"mask": mask}]]
    out = CFGDenoiser(model, positive, [], 1.0, SHAPE, "cpu")(X, SIGMA)
    a, b = alone(model, ctx(1.0)), alone(model, ctx(3.0))
    torch.testing.assert_close(out[..., :7], ((a + b) / 2)[..., :7])
    torch.testing.assert_close(out[..., 9:], a[..., 9:])


def test_timestep_range_switches_an_entry_on_late_in_the_schedule(model):
    ms = model.model_sampling
    positive = [[ctx(1.0), {"end_percent": 0.5}], [ctx(3.0), {"start_percent": 0.5}]]
    denoiser = CFGDenoiser(model, positive, [], 1.0, SHAPE, "cpu")
    early, late = ms.percent_to_sigma(0.2), ms.percent_to_sigma(0.8)
    torch.testing.assert_close(denoiser(X, torch.full((B,), early)),
                               alone(model, ctx(1.0), sigma=torch.full((B,), early)))
    torch.testing.assert_close(denoiser(X, torch.full((B,), late)),
                               alone(model, ctx(3.0), sigma=torch.full((B,), late)))


def test_control_residuals_reach_the_network_only_inside_their_percent_range(model, net):
    seen = []

    def residual(value):
        def fn(x, sigma, cond):
            seen.append((x.shape[0], tuple(cond["context"].shape)))
            return {"input": [None], "middle": [torch.full_like(x, value)], "output": []}
        return fn

    chain = Control(residual(0.5), 0.0, 0.5, previous=Control(residual(0.25), 0.0, 1.0))
    denoiser = CFGDenoiser(model, [[ctx(1.0), {"control": chain}]], [[ctx(0.0), {"control": chain}]], 2.0,
                           SHAPE, "cpu")
    ms = model.model_sampling
    denoiser(X, torch.full((B,), ms.percent_to_sigma(0.25)))
    assert seen == [(2 * B, (2 * B, 77, 8))] * 2
    assert torch.equal(net.calls[-1]["control"]["middle"][0], torch.full((2 * B, *SHAPE[1:]), 0.75))
    denoiser(X, torch.full((B,), ms.percent_to_sigma(0.75)))
    assert torch.equal(net.calls[-1]["control"]["middle"][0], torch.full((2 * B, *SHAPE[1:]), 0.25))


def test_prompts_of_different_lengths_share_one_batch(model, net):
    out = CFGDenoiser(model, [[ctx(1.0, 154), {}]], [[ctx(-1.0, 77), {}]], 3.0, SHAPE, "cpu")(X, SIGMA)
    assert [c["batch"] for c in net.calls] == [2 * B] and net.calls[0]["context"] == (2 * B, 154, 8)
    cond, uncond = alone(model, ctx(1.0, 154)), alone(model, ctx(-1.0, 77))
    torch.testing.assert_close(out, uncond + 3.0 * (cond - uncond))


def test_model_specific_conditioning_is_batched_and_concat_joins_the_input():
    seen = {}

    class ConcatNet:
        def apply(self, x, timestep, context, y=None, control=None, **kw):
            seen.update(channels=x.shape[1], y=y, concat=x[:, 4:])
            return x[:, :4] * 0

    def extra_conds(options, shape):
        return {"y": options["pooled_output"], "concat": torch.full((1, 4, *shape[2:]), options["frame"])}

    model = SamplingModel(ConcatNet(), DiscreteModelSampling(), extra_conds=extra_conds)
    positive = [[ctx(1.0), {"pooled_output": torch.ones(1, 3), "frame": 2.0}]]
    negative = [[ctx(0.0), {"pooled_output": torch.zeros(1, 3), "frame": 2.0}]]
    CFGDenoiser(model, positive, negative, 4.0, SHAPE, "cpu")(X, SIGMA)
    assert seen["channels"] == 8 and torch.equal(seen["concat"], torch.full((2 * B, 4, 16, 16), 2.0))
    assert torch.equal(seen["y"], torch.cat([torch.ones(B, 3), torch.zeros(B, 3)]))
