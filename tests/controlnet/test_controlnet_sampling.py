"""ControlNets inside sampling: the Canny workflow end to end, strength 0 and an unreached window change
nothing, chains run every net each step, hints follow the latent size, families are checked."""

import pytest
import torch

from engine.models.controlnet import ControlNetModel
from tests.controlnet.canny_prompts import STEPS, canny_prompt, house, latent, without_control
from tests.fixtures.steering_models import SD15_CANNY, SDXL_CANNY
from tests.fixtures.workflow_runner import SIZE, workflow


@pytest.fixture
def forwards(monkeypatch):
    """Records (batch, hint shape) of every ControlNet forward."""
    calls = []
    real = ControlNetModel.forward

    def record(self, x, hint, timesteps, context=None, y=None):
        calls.append((x.shape[0], tuple(hint.shape)))
        return real(self, x, hint, timesteps, context, y)

    monkeypatch.setattr(ControlNetModel, "forward", record)
    return calls


def test_canny_controlnet_workflow_writes_png_and_steers_thelatent(loom, forwards):
    prompt = canny_prompt(loom)
    image = loom.image(loom.run(prompt))
    assert image.shape == (SIZE, SIZE, 3)
    controlled = latent(loom, prompt)
    plain = latent(loom, without_control(canny_prompt(loom)))
    assert not torch.allclose(controlled, plain, atol=1e-3)
    assert forwards and all(hint == (2, 3, SIZE, SIZE) for _, hint in forwards)  # cond + uncond, latent x 8


@pytest.mark.parametrize("apply", [{"strength": 0.0}, {"start_percent": 1.0}], ids=["strength_0", "never_active"])
def test_controlnet_that_adds_nothing_gives_the_same_latent_as_none(loom, apply):
    controlled = latent(loom, canny_prompt(loom, **apply))
    plain = latent(loom, without_control(canny_prompt(loom)))
    assert torch.equal(controlled, plain)


def test_hint_of_another_size_is_centre_cropped_and_resized_to_latent_times_8(loom, forwards):
    prompt = canny_prompt(loom)
    house(loom, size=(150, 90))
    loom.run(prompt)
    assert {hint for _, hint in forwards} == {(2, 3, SIZE, SIZE)}


def test_chained_controlnets_all_run_each_step_and_add_up(loom, forwards):
    prompt = canny_prompt(loom)
    prompt["15"] = {"class_type": "ControlNetApplyAdvanced", "inputs": {
        "positive": ["14", 0], "negative": ["14", 1], "control_net": ["13", 0], "image": ["12", 0],
        "strength": 0.5, "start_percent": 0.0, "end_percent": 1.0}}
    prompt["3"]["inputs"].update(positive=["15", 0], negative=["15", 1])
    chained = latent(loom, prompt)
    assert len(forwards) == 2 * STEPS  # euler: one model evaluation per step, both nets each time
    single = latent(loom, canny_prompt(loom))
    assert not torch.allclose(chained, single, atol=1e-4)


def test_legacy_apply_node_steers_the_negative_prompt_too(loom, forwards):
    prompt = canny_prompt(loom)
    del prompt["14"]
    prompt["14"] = {"class_type": "ControlNetApply", "inputs": {
        "conditioning": ["6", 0], "control_net": ["13", 0], "image": ["12", 0], "strength": 1.0}}
    prompt["3"]["inputs"].update(positive=["14", 0], negative=["7", 0])
    loom.run(prompt)
    assert forwards and all(batch == 2 for batch, _ in forwards)


def test_sd15_controlnet_on_sdxl_conditioning_is_an_error_naming_both_families(loom):
    prompt = canny_prompt(loom)
    sdxl = workflow("sdxl_txt2img", steps=STEPS)
    prompt.update({"4": sdxl["4"], "6": sdxl["6"], "7": sdxl["7"]})
    result = loom.executor.run(prompt)
    assert result.status == "error"
    message = result.error["exception_message"]
    assert "ControlNetApplyAdvanced" in message and SD15_CANNY in message
    assert "conditioning is 64 wide" in message


def test_diffusers_layout_sdxl_controlnet_runs_with_the_sdxl_base(loom, forwards):
    house(loom)
    prompt = workflow("sdxl_txt2img", steps=STEPS)
    prompt.update({
        "11": {"class_type": "LoadImage", "inputs": {"image": "house.png"}},
        "13": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": SDXL_CANNY}},
        "14": {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["6", 0], "negative": ["7", 0], "control_net": ["13", 0], "image": ["11", 0],
            "strength": 0.8, "start_percent": 0.0, "end_percent": 0.6}}})
    prompt["3"]["inputs"].update(positive=["14", 0], negative=["14", 1])
    assert loom.image(loom.run(prompt)).shape == (SIZE, SIZE, 3)
    assert 0 < len(forwards) < STEPS  # the window ends before the last step


def test_controlnet_of_another_family_with_the_same_prompt_width_fails_when_sampling(loom):
    prompt = canny_prompt(loom)
    prompt["4"]["inputs"]["ckpt_name"] = "v2-1_768-ema-pruned.safetensors"  # tiny SD2: same width, linear proj
    result = loom.executor.run(prompt)
    assert result.status == "error"
    message = result.error["exception_message"]
    assert f"ControlNet {SD15_CANNY}: this ControlNet is for SD-class" in message
    assert "use_linear_in_transformer" in message
