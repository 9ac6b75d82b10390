"""The example workflows run end to end on tiny checkpoints placed under the real file names."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.fixtures.workflow_runner import SIZE, workflow


def _with_inputs(loom, name):
    if name == "sd15_img2img":
        loom.put_input_image("example.png")
    if name == "sd15_inpaint":
        loom.put_input_image("inpaint_source.png", alpha_hole=True)
    return workflow(name)


@pytest.mark.parametrize("name", ["sd15_txt2img", "sd15_img2img", "sd15_inpaint", "sdxl_txt2img"])
def test_workflow_writes_png(loom, name):
    result = loom.run(_with_inputs(loom, name))
    image = loom.image(result)
    assert image.shape == (SIZE, SIZE, 3)
    assert image.std() > 0


@pytest.mark.parametrize("ckpt", ["v2-1_768-ema-pruned.safetensors", "sd_xl_base_1.0.safetensors"])
@pytest.mark.parametrize("name", ["sd15_txt2img", "sd15_img2img", "sd15_inpaint"])
def test_sd2_v_and_sdxl_checkpoints_run_the_sd15_workflows(loom, name, ckpt):
    prompt = _with_inputs(loom, name)
    prompt["4"]["inputs"]["ckpt_name"] = ckpt
    assert loom.image(loom.run(prompt)).shape == (SIZE, SIZE, 3)


def test_same_seed_same_pixels_and_other_seed_differs(loom):
    prompt = workflow("sd15_txt2img")
    first = loom.image(loom.run(prompt))
    again = loom.image(loom.run(prompt))
    prompt["3"]["inputs"]["seed"] += 1
    other = loom.image(loom.run(prompt))
    assert np.array_equal(first, again)
    assert np.abs(first - other).mean() > 1.0


def test_img2img_lower_denoise_stays_closer_to_input(loom):
    prompt = _with_inputs(loom, "sd15_img2img")
    prompt["3"]["inputs"]["steps"] = 4

    def with_denoise(value):
        prompt["3"]["inputs"]["denoise"] = value
        return loom.image(loom.run(prompt))

    source = with_denoise(0.0)  # no sampling: the input image as the VAE sees it
    light, full = with_denoise(0.3), with_denoise(1.0)
    assert np.abs(light - source).mean() < np.abs(full - source).mean()


def test_inpaint_leaves_unmasked_latents_untouched(loom):
    prompt = _with_inputs(loom, "sd15_inpaint")
    prompt["20"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["11", 0]}}
    prompt["21"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}}
    result = loom.run(prompt)
    before, after = result.outputs["20"]["latent"][0], result.outputs["21"]["latent"][0]
    mask = F.interpolate(before["noise_mask"], size=before["samples"].shape[-2:], mode="bilinear")
    keep = (mask == 0).expand_as(before["samples"])
    assert keep.any() and not keep.all()
    assert torch.allclose(after["samples"][keep], before["samples"][keep], atol=1e-5)
    assert not torch.allclose(after["samples"][~keep], before["samples"][~keep], atol=1e-2)


def test_missing_checkpoint_is_a_validation_error_naming_node_file_and_folders(loom):
    prompt = workflow("sd15_txt2img")
    prompt["4"]["inputs"]["ckpt_name"] = "dreamshaper_8.safetensors"
    result = loom.executor.run(prompt)
    assert result.status == "error"
    error = result.node_errors["4"]["errors"][0]
    assert result.node_errors["4"]["class_type"] == "CheckpointLoaderSimple"
    assert error["type"] == "value_not_in_list"
    assert error["message"] == "Model file not found in models/checkpoints"
    assert "dreamshaper_8.safetensors" in error["details"]
    assert "v1-5-pruned-emaonly.safetensors" in error["details"]  # what is there instead
    assert "searched: models/checkpoints" in error["details"]  # relative: no server layout in errors
    assert str(loom.folders.models_dir) not in error["details"]


def test_design_card_names_run_like_the_comfyui_ones(loom):
    prompt = workflow("sd15_txt2img")
    expected = loom.image(loom.run(prompt))
    prompt["4"]["class_type"] = "LoadCheckpoint"
    prompt["6"]["class_type"] = prompt["7"]["class_type"] = "CLIPEncode"
    assert np.array_equal(loom.image(loom.run(prompt)), expected)
