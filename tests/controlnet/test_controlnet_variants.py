"""ControlNetInpaintingAliMamaApply steers an ordinary ControlNet exactly like ControlNetApplyAdvanced (the
mask only matters to AliMama's own nets), and SetUnionControlNetType passes an ordinary ControlNet through."""

import torch

from tests.controlnet.canny_prompts import canny_prompt, latent


def test_alimama_apply_equals_the_advanced_apply_for_an_ordinary_controlnet(loom):
    prompt = canny_prompt(loom, strength=0.8, start_percent=0.1, end_percent=0.9)
    advanced = latent(loom, prompt)
    prompt["30"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 64, "height": 64}}
    prompt["31"] = {"class_type": "SetUnionControlNetType", "inputs": {
        "control_net": prompt["14"]["inputs"]["control_net"], "type": "canny/lineart/anime_lineart/mlsd"}}
    inputs = dict(prompt["14"]["inputs"], vae=["4", 2], mask=["30", 0], control_net=["31", 0])
    prompt["14"] = {"class_type": "ControlNetInpaintingAliMamaApply", "inputs": inputs}
    assert torch.equal(latent(loom, prompt), advanced)
