"""workflows/sd15_custom_sampling.json runs headless on a tiny SD1.5 checkpoint, and the custom sampling
nodes compose into exactly KSampler's run."""

import pytest
import torch

from tests.fixtures.workflow_runner import SIZE, Loom, workflow, write_checkpoints


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_checkpoints(root, families=["sd15"])
    return root


@pytest.fixture
def loom(tmp_path, models_dir):
    return Loom(tmp_path, models_dir)


def custom_workflow(steps: int = 3) -> dict:
    prompt = workflow("sd15_custom_sampling")
    prompt["14"]["inputs"]["steps"] = steps
    return prompt


def test_custom_sampling_workflow_saves_a_picture(loom):
    result = loom.run(custom_workflow())
    image = loom.image(result)
    assert image.shape == (SIZE, SIZE, 3) and image.std() > 0
    assert result.outputs["9"]["images"][0]["filename"] == "sd15_custom_sampling_00001_.png"


def test_sampler_custom_advanced_equals_ksampler_for_the_same_settings(loom):
    prompt = custom_workflow()
    prompt["11"]["inputs"]["model"] = ["4", 0]  # no RescaleCFG: plain CFG as KSampler does
    prompt["13"]["inputs"]["sampler_name"] = "dpmpp_2m_sde"  # seeded Brownian noise must match too
    prompt["20"] = {"class_type": "KSampler", "inputs": {
        "model": ["4", 0], "seed": 1234, "steps": 3, "cfg": 7.0, "sampler_name": "dpmpp_2m_sde",
        "scheduler": "karras", "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0], "denoise": 1.0}}
    prompt["21"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}}
    prompt["22"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["20", 0]}}
    result = loom.run(prompt)
    custom, ksampler = result.outputs["21"]["latent"][0], result.outputs["22"]["latent"][0]
    assert torch.equal(custom["samples"], ksampler["samples"])


def test_denoised_output_is_the_last_x0_estimate(loom):
    """Stopped early (SplitSigmas' high part), the output keeps its noise and denoised_output is the x0
    estimate; run to sigma 0 with dpmpp_2m_sde, whose last step returns that estimate, the two agree."""
    prompt = custom_workflow()
    prompt["15"] = {"class_type": "SplitSigmas", "inputs": {"sigmas": ["14", 0], "step": 2}}
    prompt["16"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["12", 0], "guider": ["11", 0], "sampler": ["13", 0], "sigmas": ["15", 0],
        "latent_image": ["5", 0]}}
    prompt["13"]["inputs"]["sampler_name"] = "dpmpp_2m_sde"
    for node_id, source in {"21": ["16", 0], "22": ["16", 1], "23": ["3", 0], "24": ["3", 1]}.items():
        prompt[node_id] = {"class_type": "CaptureLatent", "inputs": {"samples": source}}
    result = loom.run(prompt)
    early, early_x0, full, full_x0 = (result.outputs[k]["latent"][0]["samples"] for k in ("21", "22", "23", "24"))
    assert early.shape == early_x0.shape and not torch.equal(early, early_x0) and not torch.equal(early, full)
    assert torch.equal(full, full_x0)


def test_rescale_cfg_patch_reaches_the_guider(loom):
    def sampled(model_source):
        prompt = custom_workflow()
        prompt["11"]["inputs"]["model"] = model_source
        prompt["21"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}}
        return loom.run(prompt).outputs["21"]["latent"][0]["samples"]

    patched, plain = sampled(["10", 0]), sampled(["4", 0])
    assert (patched - plain).abs().max() > 1e-3


def test_sampler_custom_equals_the_advanced_node_with_a_cfg_guider(loom):
    prompt = custom_workflow()
    prompt["20"] = {"class_type": "SamplerCustom", "inputs": {
        "model": ["10", 0], "add_noise": True, "noise_seed": 1234, "cfg": 7.0, "positive": ["6", 0],
        "negative": ["7", 0], "sampler": ["13", 0], "sigmas": ["14", 0], "latent_image": ["5", 0]}}
    prompt["21"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}}
    prompt["22"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["20", 0]}}
    result = loom.run(prompt)
    assert torch.equal(result.outputs["21"]["latent"][0]["samples"], result.outputs["22"]["latent"][0]["samples"])


def test_disable_noise_samples_the_latent_as_given(loom):
    prompt = custom_workflow()
    prompt["12"] = {"class_type": "DisableNoise", "inputs": {}}
    prompt["21"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}}
    first = loom.run(prompt).outputs["21"]["latent"][0]["samples"]
    prompt["12"] = {"class_type": "RandomNoise", "inputs": {"noise_seed": 1234}}
    seeded = loom.run(prompt).outputs["21"]["latent"][0]["samples"]
    assert first.abs().max() < seeded.abs().max() / 10  # from an empty latent without noise, little happens
