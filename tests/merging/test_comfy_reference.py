"""Merge and conditioning-math nodes, the sampler's "mask bounds" area, LoRA extraction, hypernetworks and
style models against ComfyUI 0.3.64 itself: tests/merging/data holds inputs and ComfyUI's outputs, made by
tools/comfy_reference/model_nodes.py (ComfyUI's nodes and ModelPatcher on seeded tensors). Loom's nodes, run on the same inputs, must give the same tensors at float32 tolerance
and the same options."""

import json
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from engine.memory import ModelHandle, ModelManager
from nodes import conditioning as cond_nodes
from nodes import conditioning_props as props
from nodes import model_merging, model_merging_blocks

DATA = Path(__file__).parent / "data"
REFERENCE = load_file(str(DATA / "comfy_model_nodes.safetensors"))
OPTIONS = json.loads((DATA / "comfy_model_nodes.json").read_text())
MERGES = {
    "simple": (model_merging.ModelMergeSimple, {"ratio": 0.3}),
    "blocks": (model_merging.ModelMergeBlocks, {"input": 0.2, "middle": 0.5, "out": 0.9}),
    "subtract": (model_merging.ModelMergeSubtract, {"multiplier": 0.7}),
    "add": (model_merging.ModelMergeAdd, {}),
    "sd1": (model_merging_blocks.ModelMergeSD1, {"time_embed.": 0.1, "input_blocks.1.": 0.2,
                                                 "input_blocks.10.": 0.8, "middle_block.1.": 0.4, "out.": 0.6}),
    "sdxl": (model_merging_blocks.ModelMergeSDXL, {"time_embed.": 0.15, "input_blocks.1": 0.25,
                                                   "output_blocks.2": 0.35, "out.": 0.45}),
}


def _group(prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in REFERENCE.items() if k.startswith(prefix)}


class Weights(nn.Module):
    """A module holding exactly the given weights under their dotted names."""

    def __init__(self, shapes: dict[str, torch.Size]):
        super().__init__()
        for key, shape in shapes.items():
            module, parts = self, key.split(".")
            for part in parts[:-1]:
                if not hasattr(module, part):
                    module.add_module(part, nn.Module())
                module = getattr(module, part)
            module.register_parameter(parts[-1], nn.Parameter(torch.empty(shape), requires_grad=False))


@dataclass(frozen=True)
class Value:
    """The part of MODEL the merge nodes use: a handle and with_patches."""

    handle: ModelHandle

    def with_patches(self, patches):
        return replace(self, handle=self.handle.with_patches(patches))


@pytest.fixture
def models():
    manager = ModelManager(device="cpu")

    def value(name: str) -> Value:
        weights = _group(f"{name}/")
        shapes = {k: v.shape for k, v in weights.items()}
        return Value(manager.handle(name, name=name, build=lambda: Weights(shapes), state_dict=lambda: weights))

    return manager, value("model1"), value("model2")


def _assert_merged(manager, merged: Value, case: str) -> None:
    expected = _group(f"merge/{case}/")
    with manager.use(merged.handle) as module:
        got = module.state_dict()
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value, rtol=1e-6, atol=1e-6, msg=f"{case}: {key}")


@pytest.mark.parametrize("case", list(MERGES))
def test_merge_node_equals_comfyui(models, case):
    manager, model1, model2 = models
    cls, inputs = MERGES[case]
    (merged,) = cls.model_construct(model1=model1, model2=model2, **_defaults(cls) | inputs).run(None)
    _assert_merged(manager, merged, case)


def test_merging_with_a_merged_model2_equals_comfyui(models):
    manager, model1, model2 = models
    (doubled,) = model_merging.ModelMergeAdd.model_construct(model1=model2, model2=model2).run(None)
    (merged,) = model_merging.ModelMergeSimple.model_construct(model1=model1, model2=doubled, ratio=0.5).run(None)
    _assert_merged(manager, merged, "chained")


def _defaults(cls) -> dict:
    return {field.alias or name: field.default for name, field in cls.model_fields.items()
            if not field.is_required()}


def _conditioning(name: str) -> list:
    entries = []
    for i, strength in enumerate(OPTIONS["inputs"]["to_strength"] if name == "to" else [None]):
        options = {k: v for k, v in _group(f"input/{name}/{i}/").items() if k != "embedding"}
        if strength is not None:
            options["strength"] = strength
        entries.append([REFERENCE[f"input/{name}/{i}/embedding"], options])
    return entries


HOOK_PROPS = {"strength": 0.4, "set_cond_area": "mask bounds", "mask": REFERENCE["input/hook_mask"], "hooks": None,
              "timesteps": (0.2, 0.6)}
CONDITIONING = {  # case -> the node run on the "to" conditioning, its output ComfyUI recorded
    "average": lambda to: cond_nodes.ConditioningAverage(
        conditioning_to=to, conditioning_from=_conditioning("from"), conditioning_to_strength=0.3).run(None)[0],
    "average_short_from": lambda to: cond_nodes.ConditioningAverage(
        conditioning_to=to, conditioning_from=_conditioning("short"), conditioning_to_strength=0.6).run(None)[0],
    "concat": lambda to: cond_nodes.ConditioningConcat(
        conditioning_to=to, conditioning_from=_conditioning("from")).run(None)[0],
    "area_percentage": lambda to: cond_nodes.ConditioningSetAreaPercentage(
        conditioning=to, width=0.5, height=0.25, x=0.1, y=0.2, strength=0.8).run(None)[0],
    "area_strength": lambda to: cond_nodes.ConditioningSetAreaStrength(conditioning=to, strength=2.5).run(None)[0],
    "timestep_range": lambda to: cond_nodes.ConditioningSetTimestepRange(
        conditioning=to, start=0.2, end=0.7).run(None)[0],
    "zero_out": lambda to: cond_nodes.ConditioningZeroOut(conditioning=to).run(None)[0],
    "props_combine": lambda to: props.ConditioningSetPropertiesAndCombine(
        cond=_conditioning("from"), cond_NEW=to, **HOOK_PROPS).run(None)[0],
    "pair_props_positive": lambda to: props.PairConditioningSetProperties(
        positive_NEW=to, negative_NEW=_conditioning("from"), **HOOK_PROPS).run(None)[0],
    "pair_props_negative": lambda to: props.PairConditioningSetProperties(
        positive_NEW=to, negative_NEW=_conditioning("from"), **HOOK_PROPS).run(None)[1],
}


@pytest.mark.parametrize("case", list(CONDITIONING))
def test_conditioning_node_equals_comfyui(case):
    out = CONDITIONING[case](_conditioning("to"))
    expected_options = OPTIONS["outputs"][case]
    assert len(out) == len(expected_options)
    for i, (embedding, options) in enumerate(out):
        torch.testing.assert_close(embedding, REFERENCE[f"cond/{case}/{i}/embedding"], rtol=1e-6, atol=1e-6)
        tensors = _group(f"cond/{case}/{i}/")
        assert {k for k, v in options.items() if torch.is_tensor(v)} == set(tensors) - {"embedding"}
        for key, value in tensors.items():
            if key != "embedding":
                torch.testing.assert_close(options[key], value, rtol=1e-6, atol=1e-6)
        plain = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items() if not torch.is_tensor(v)}
        assert plain == expected_options[i]


@pytest.mark.parametrize("case", list(OPTIONS["mask_bounds"]))
def test_mask_bounds_area_equals_comfyui(case):
    from engine.sampling.cfg import _area

    name, dims = case.split("/")
    height, width = (int(v) for v in dims.split("x"))
    (conditioning,) = cond_nodes.ConditioningSetMask(
        conditioning=[[torch.zeros(1, 77, 8), {}]], mask=REFERENCE[f"mask_bounds/{name}"], strength=1.0,
        set_cond_area="mask bounds").run(None)
    assert list(_area(conditioning[0][1], height, width)) == OPTIONS["mask_bounds"][case]


@pytest.mark.parametrize("name", ["linear", "conv3x3", "conv1x1"])
def test_lora_extraction_factors_equal_comfyui(name):
    from engine.models.lora.extract import low_rank_factors

    up, down = low_rank_factors(REFERENCE[f"lora/{name}/diff"], 4)
    torch.testing.assert_close(up, REFERENCE[f"lora/{name}/up"], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(down, REFERENCE[f"lora/{name}/down"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["relu_layer_norm", "linear"])
def test_hypernetwork_patch_equals_comfyui(name):
    from engine.models.hypernetwork import HypernetworkPatch, load_hypernetwork

    patch = HypernetworkPatch(load_hypernetwork(DATA / f"hypernetwork_{name}.pt"), 0.7)
    q, k, v = (REFERENCE[f"hypernetwork/{part}"] for part in "qkv")
    q2, k2, v2 = patch(q, k, v, {})
    assert q2 is q
    torch.testing.assert_close(k2, REFERENCE[f"hypernetwork/{name}/k"], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(v2, REFERENCE[f"hypernetwork/{name}/v"], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind,strength", [("multiply", 0.6), ("attn_bias", 0.5)])
def test_style_model_apply_equals_comfyui(tmp_path, kind, strength):
    from engine.graph.context import Services
    from engine.paths import Folders
    from nodes.style_model import StyleModelApply, StyleModelLoader

    folders = Folders(tmp_path, models_dir=tmp_path / "models")
    folders.folders_for("style_models")[0].mkdir(parents=True)
    (folders.folders_for("style_models")[0] / "style.safetensors").write_bytes(
        (DATA / "style_adapter.safetensors").read_bytes())
    ctx = SimpleNamespace(services=Services(folders=folders, models=ModelManager(device="cpu")))
    (style,) = StyleModelLoader(style_model_name="style.safetensors").run(ctx)
    vision = SimpleNamespace(last_hidden_state=REFERENCE["style/hidden"])
    ((embedding, options),), = StyleModelApply(conditioning=[[REFERENCE["style/text"], {}]], style_model=style,
                                               clip_vision_output=vision, strength=strength,
                                               strength_type=kind).run(ctx)
    torch.testing.assert_close(embedding, REFERENCE[f"style/{kind}/cond"], rtol=1e-5, atol=1e-5)
    if f"style/{kind}/attention_mask" in REFERENCE:
        assert torch.equal(options["attention_mask"], REFERENCE[f"style/{kind}/attention_mask"])


def test_video_percentage_area_on_image_latents_reads_like_comfyui():
    from engine.sampling.cfg import _area

    (conditioning,) = cond_nodes.ConditioningSetAreaPercentageVideo(
        conditioning=[[torch.zeros(1, 77, 8), {}]], width=0.25, height=0.5, temporal=1.0, x=0.3, y=0.2, z=0.1,
        strength=1.0).run(None)
    # ComfyUI's get_area_and_mult on a 2-D latent: sizes from the first two fractions (temporal, height),
    # offsets from the first two of the second half (z, y)
    assert _area(conditioning[0][1], 8, 6) == (8, 3, 1, 1)
