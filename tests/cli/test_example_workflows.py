"""Every example workflow that needs no model file runs headless and writes what it promises."""

import json

import pytest
from cli_helpers import WORKFLOWS

MODEL_INPUTS = {"ckpt_name", "vae_name", "lora_name", "control_net_name", "clip_name", "clip_name1", "unet_name",
                "model_name", "clip_vision_name", "style_model_name", "gligen_name"}


def needs_no_model(path):
    data = json.loads(path.read_text())
    nodes = data["nodes"] if "nodes" in data else data.values()
    for node in nodes:
        inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
        if MODEL_INPUTS & set(inputs) or "Loader" in str(node.get("class_type", node.get("type"))):
            return False
    return True


MODEL_FREE = sorted(p for p in WORKFLOWS.rglob("*.json") if needs_no_model(p))


def test_there_are_at_least_two_model_free_examples():
    assert len(MODEL_FREE) >= 2


@pytest.mark.parametrize("workflow", MODEL_FREE, ids=lambda p: str(p.relative_to(WORKFLOWS)))
def test_example_workflow_runs_headless(cli_json, workflow):
    code, result, err = cli_json(workflow)
    assert code == 0, err
    assert result["status"] == "success"
    assert result["files"], "an example workflow should write or preview at least one image"
