"""Merge nodes write what ComfyUI's add_patches arithmetic gives: each saved weight is checked against the
arithmetic done here on the two source files (exact in float32), including ComfyUI's quirks (Subtract
scales both models; ModelMergeBlocks' first ratio covers keys no block names)."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.merging.conftest import PAIRS

UNET = "model.diffusion_model."
TEXT = ("cond_stage_model.", "conditioner.")


def _save(loom, family: str, model_node: dict, clip_node: dict | None = None) -> dict:
    """Run loaders of the family's pair -> the given merge nodes -> CheckpointSave; the saved tensors."""
    first, second = PAIRS[family]
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": first}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": second}},
        "3": model_node,
        "4": clip_node or {"class_type": "CLIPSetLastLayer", "inputs": {"clip": ["1", 1], "stop_at_clip_layer": -1}},
        "5": {"class_type": "CheckpointSave", "inputs": {"model": ["3", 0], "clip": ["4", 0], "vae": ["1", 2],
                                                          "filename_prefix": f"checkpoints/{family}_merged"}},
    }
    loom.run(prompt)
    return load_file(str(loom.folders.output_dir / "checkpoints" / f"{family}_merged_00001_.safetensors"))


def _reference_inputs(class_type: str) -> list[str]:
    """The required inputs ComfyUI declares for `class_type` (a prompt must give every one)."""
    reference = json.loads((Path(__file__).parents[1] / "nodes/data/comfy_object_info.json").read_text())
    return list(reference["nodes"][class_type]["input"]["required"])


def _merge(kind: str, **inputs) -> dict:
    first, second = ("model1", "model2") if kind.startswith("Model") else ("clip1", "clip2")
    index = 0 if kind.startswith("Model") else 1
    return {"class_type": kind, "inputs": {first: ["1", index], second: ["2", index], **inputs}}


def _assert_weights(saved: dict, a: dict, b: dict, expected_for) -> None:
    compared = 0
    for key, value in saved.items():
        if key in a and key in b and key != "v_pred":
            expected = expected_for(key, a[key].float(), b[key].float())
            assert torch.equal(value.float(), expected), key
            compared += 1
    assert compared > 100


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_merge_simple_saves_the_ratio_weighted_average_of_unet_and_text_encoders(loom, source, family):
    saved = _save(loom, family, _merge("ModelMergeSimple", ratio=0.3), _merge("CLIPMergeSimple", ratio=0.3))
    a, b = (source(name) for name in PAIRS[family])
    assert set(saved) == {k for k in a if not k.endswith(("position_ids", "logit_scale"))}

    def expected(key, wa, wb):
        return wa * 0.3 + 0.7 * wb if key.startswith((UNET,) + TEXT) else wa

    _assert_weights(saved, a, b, expected)


def test_subtract_scales_both_models_and_add_sums_them_like_comfyui(loom, source):
    a, b = (source(name) for name in PAIRS["sd15"])
    difference = _save(loom, "sd15", _merge("ModelMergeSubtract", multiplier=0.5),
                       _merge("CLIPMergeAdd"))

    def expected(key, wa, wb):
        if key.startswith(UNET):
            return wa * 0.5 + -0.5 * wb
        return wa + wb if key.startswith(TEXT) else wa

    _assert_weights(difference, a, b, expected)


def test_block_merge_matches_the_longest_prefix_and_the_first_ratio_covers_the_rest(loom, source):
    a, b = (source(name) for name in PAIRS["sd15"])
    saved = _save(loom, "sd15", _merge("ModelMergeBlocks", input=0.25, middle=0.5, out=1.0))

    def expected(key, wa, wb):
        if not key.startswith(UNET):
            return wa
        rest = key[len(UNET):]
        ratio = 0.5 if rest.startswith("middle") else 1.0 if rest.startswith("out") else 0.25
        return wa * ratio + (1.0 - ratio) * wb

    _assert_weights(saved, a, b, expected)


def test_model_merge_sd1_takes_each_block_ratio_by_its_comfyui_input_name(loom, source):
    a, b = (source(name) for name in PAIRS["sd15"])
    ratios = {"time_embed.": 0.1, "input_blocks.1.": 0.0, "middle_block.1.": 0.7, "out.": 0.9}
    every_block = {name: 1.0 for name in _reference_inputs("ModelMergeSD1") if name not in ("model1", "model2")}
    saved = _save(loom, "sd15", _merge("ModelMergeSD1", **(every_block | ratios)))

    def expected(key, wa, wb):
        if not key.startswith(UNET):
            return wa
        rest = key[len(UNET):]
        ratio = next((r for prefix, r in ratios.items() if rest.startswith(prefix)), 1.0)
        return wa * ratio + (1.0 - ratio) * wb

    _assert_weights(saved, a, b, expected)


def test_merging_a_merged_model_uses_model2_with_its_own_patches(loom, source):
    a, b = (source(name) for name in PAIRS["sd15"])
    first, second = PAIRS["sd15"]
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": first}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": second}},
        "3": {"class_type": "ModelMergeAdd", "inputs": {"model1": ["2", 0], "model2": ["2", 0]}},
        "4": {"class_type": "ModelMergeSimple", "inputs": {"model1": ["1", 0], "model2": ["3", 0], "ratio": 0.5}},
        "5": {"class_type": "ModelSave", "inputs": {"model": ["4", 0], "filename_prefix": "diffusion_models/m"}},
    }
    loom.run(prompt)
    saved = load_file(str(loom.folders.output_dir / "diffusion_models" / "m_00001_.safetensors"))
    assert all(k.startswith(UNET) for k in saved)
    _assert_weights(saved, a, b, lambda key, wa, wb: wa * 0.5 + 0.5 * (wb + wb))
