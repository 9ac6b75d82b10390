"""SDXL base -> refiner: the example workflow, the KSamplerAdvanced hand-off against one continuous run,
the one-node Refiner's expansion, and a memory budget that holds one UNet at a time."""

import pytest
import torch

from engine.sampling.samplers import SAMPLERS
from tests.fixtures.checkpoints import tiny_checkpoint_state_dict
from tests.fixtures.workflow_runner import SIZE, Loom, workflow

STEPS, SWITCH = 4, 3
BASE, REFINER = "sd_xl_base_1.0.safetensors", "sd_xl_refiner_1.0.safetensors"


def _base_refiner():
    prompt = workflow("sdxl_base_refiner", steps=STEPS)
    prompt["10"]["inputs"]["end_at_step"] = SWITCH
    prompt["11"]["inputs"]["start_at_step"] = SWITCH
    prompt["20"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["11", 0]}}
    return prompt


def _captured(result, node="20"):
    return result.outputs[node]["latent"][0]["samples"]


@pytest.fixture
def schedules(monkeypatch):
    """The sigmas every euler run receives."""
    seen = []
    real = SAMPLERS["euler"]

    def euler(model, x, sigmas, **kw):
        seen.append(sigmas.clone())
        return real(model, x, sigmas, **kw)

    monkeypatch.setitem(SAMPLERS, "euler", euler)
    return seen


def test_base_refiner_workflow_writes_png(loom):
    result = loom.run(_base_refiner())
    assert loom.image(result, "9").shape == (SIZE, SIZE, 3)


def test_handoff_equals_one_continuous_run_of_the_same_schedule(loom, schedules):
    single = workflow("sdxl_txt2img", steps=STEPS)
    single["3"]["inputs"].update(sampler_name="euler", scheduler="normal")
    single["20"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}}
    continuous = _captured(loom.run(single))

    split = dict(single)
    shared = {k: single["3"]["inputs"][k] for k in ("cfg", "sampler_name", "scheduler", "model", "positive",
                                                     "negative")}
    split["3"] = {"class_type": "KSamplerAdvanced", "inputs": {
        **shared, "add_noise": "enable", "noise_seed": single["3"]["inputs"]["seed"], "steps": STEPS,
        "latent_image": ["5", 0], "start_at_step": 0, "end_at_step": SWITCH, "return_with_leftover_noise": "enable"}}
    split["21"] = {"class_type": "KSamplerAdvanced", "inputs": {
        **shared, "add_noise": "disable", "noise_seed": 0, "steps": STEPS, "latent_image": ["3", 0],
        "start_at_step": SWITCH, "end_at_step": 10000, "return_with_leftover_noise": "disable"}}
    split["8"]["inputs"]["samples"] = ["21", 0]
    split["20"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["21", 0]}}
    handed_over = _captured(loom.run(split))

    whole, first, second = schedules
    assert torch.equal(torch.cat([first, second[1:]]), whole)
    torch.testing.assert_close(handed_over, continuous, rtol=1e-5, atol=1e-5)


def test_refiner_node_expands_into_the_two_samplers_matches_them_and_caches(loom):
    manual = _base_refiner()
    for node in ("10", "11"):
        manual[node]["inputs"].update(noise_seed=77, sampler_name="euler", scheduler="normal", cfg=6.0)
    expected = _captured(loom.run(manual))

    one_node = _base_refiner()
    one_node["30"] = {"class_type": "Refiner", "inputs": {
        "base_model": ["4", 0], "refiner_model": ["12", 0], "base_positive": ["6", 0], "base_negative": ["7", 0],
        "refiner_positive": ["15", 0], "refiner_negative": ["16", 0], "latent_image": ["5", 0], "seed": 77,
        "steps": STEPS, "switch": SWITCH / STEPS, "cfg": 6.0, "sampler_name": "euler", "scheduler": "normal"}}
    for node in ("10", "11"):
        del one_node[node]
    one_node["17"]["inputs"]["samples"] = ["30", 0]
    one_node["20"]["inputs"]["samples"] = ["30", 0]
    result = loom.run(one_node)

    assert torch.equal(_captured(result), expected)
    expanded = [node for node in result.executed if node.startswith("30.")]
    assert len(expanded) == 2
    again = loom.run(one_node, fresh=False)  # the cache sees the expanded samplers as the real work
    assert not [node for node in again.executed if node.startswith("30.")]


def _component_bytes(family):
    sizes = {}
    for key, value in tiny_checkpoint_state_dict(family).items():
        part = "unet" if key.startswith("model.") else "vae" if key.startswith("first_stage_model.") else "clip"
        sizes[part] = sizes.get(part, 0) + value.numel() * 4
    return sizes


def test_budget_for_one_unet_offloads_the_base_before_loading_the_refiner(tmp_path, models_dir):
    base, refiner = _component_bytes("sdxl"), _component_bytes("sdxl_refiner")
    largest = max(*base.values(), *refiner.values()) + 4096
    both_unets = base["unet"] + refiner["unet"]
    assert largest < both_unets, "the fixture no longer separates 'one model' from 'both UNets'"
    loom = Loom(tmp_path, models_dir, ram_budget=(largest + both_unets) // 2)

    loom.run(_base_refiner())

    events = loom.model_events()
    base_unet, refiner_unet = f"{BASE} (unet)", f"{REFINER} (unet)"
    refiner_load = events.index(("model_load", refiner_unet, "cpu"))
    assert ("model_offload", base_unet, "disk") in events[:refiner_load]
    loads = [e.data for e in loom.events.events if e.type == "model_load"]
    assert not any(data["over_budget"] for data in loads)
    assert loom.manager.used("cpu") <= loom.manager.ram_budget
