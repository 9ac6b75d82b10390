"""A pack using comfy.samplers / comfy.sd / nodes.VAEEncode / latent_preview, run on a tiny SD1.5 checkpoint:
what it builds with ComfyUI's modules is what Loom's own nodes compute."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import comfy_compat
from engine.graph.context import Services
from engine.graph.events import PREVIEW, PROGRESS, EventLog
from engine.graph.executor import Executor
from engine.graph.registry import build_default_registry
from engine.memory import ModelManager
from engine.paths import Folders
from engine.sampling.samplers import SAMPLERS
from tests.fixtures.checkpoints import make_tiny_checkpoint

PACKS = Path(__file__).parent / "packs_model"
SIZE = 64
CKPT = "tiny_sd15.safetensors"


@pytest.fixture(scope="module")
def loom(tmp_path_factory):
    base = tmp_path_factory.mktemp("model_pack")
    (base / "models" / "checkpoints").mkdir(parents=True)
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints" / CKPT)
    folders = Folders(base)
    folders.ensure()
    registry, report = build_default_registry(Services(folders=folders, models=ModelManager(device="cpu")),
                                              [PACKS], pack_host=comfy_compat)
    [pack] = report.packs
    assert pack.ok, pack.error
    yield registry, Executor(registry)
    import comfy.samplers
    from custom_nodes.model_pack import SAMPLER_NAME

    comfy.samplers.KSampler.SAMPLERS.remove(SAMPLER_NAME)
    del SAMPLERS[SAMPLER_NAME]


def run(executor: Executor, prompt: dict) -> tuple:
    events = EventLog()
    executor.reset()
    result = executor.run(prompt, sink=events)
    assert result.status == "success", (result.error or {}).get("exception_message", result.error) or result.node_errors
    return result, events


def txt2img(sampler_name: str, load: str = "CheckpointLoaderSimple") -> dict:
    return {
        "1": {"class_type": load, "inputs": {"ckpt_name": CKPT}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a fox"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": ""}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1}},
        "5": {"class_type": "KSampler", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0], "seed": 3,
            "steps": 1, "cfg": 2.0, "sampler_name": sampler_name, "scheduler": "normal", "denoise": 1.0}},
        "6": {"class_type": "CaptureOutput", "inputs": {"value": ["5", 0]}},
    }


def latent_of(result) -> torch.Tensor:
    return result.outputs["6"]["value"][0]["samples"]


@pytest.fixture(scope="module", autouse=True)
def capture_node(loom):
    from typing import Annotated

    from engine.graph.native import Node, NodeOutput, Socket, node

    @node(name="CaptureOutput", output_node=True)
    class CaptureOutput(Node):
        value: Annotated[object, Socket("*")]

        def run(self, ctx):
            return NodeOutput(ui={"value": [self.value]})

    loom[0].register(CaptureOutput)


def test_a_sampler_registered_the_comfyui_way_runs_from_ksampler(loom):
    from custom_nodes.model_pack import SAMPLER_NAME, calls

    registry, executor = loom
    assert SAMPLER_NAME in registry.object_info_for("KSampler")["input"]["required"]["sampler_name"][0]
    before = len(calls)
    custom, _ = run(executor, txt2img(SAMPLER_NAME))
    assert calls[before:] == [1]
    euler, _ = run(executor, txt2img("euler"))  # one euler step lands exactly on the x0 estimate
    torch.testing.assert_close(latent_of(custom), latent_of(euler), rtol=0, atol=1e-6)


def test_comfy_sd_loads_the_checkpoint_the_core_loader_loads(loom):
    _, executor = loom
    via_pack, _ = run(executor, txt2img("euler", load="ModelPackLoad"))
    via_core, _ = run(executor, txt2img("euler"))
    torch.testing.assert_close(latent_of(via_pack), latent_of(via_core), rtol=0, atol=0)


def test_a_ksampler_object_built_from_a_function_runs_through_sample_custom(loom):
    _, executor = loom
    prompt = txt2img("euler")
    prompt["5"] = {"class_type": "ModelPackCustomSample", "inputs": {
        "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "latent": ["4", 0], "seed": 3, "cfg": 2.0}}
    custom, _ = run(executor, prompt)
    euler, _ = run(executor, txt2img("euler"))
    torch.testing.assert_close(latent_of(custom), latent_of(euler), rtol=1e-5, atol=1e-5)


def test_nodes_vaeencode_called_from_pack_code_encodes_like_the_core_node(loom):
    _, executor = loom
    pixels = {"class_type": "EmptyImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1,
                                                      "color": 0x3366CC}}
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}}, "2": pixels,
              "3": {"class_type": "ModelPackEncode", "inputs": {"vae": ["1", 2], "pixels": ["2", 0]}},
              "4": {"class_type": "VAEEncode", "inputs": {"vae": ["1", 2], "pixels": ["2", 0]}},
              "5": {"class_type": "CaptureOutput", "inputs": {"value": ["3", 0]}},
              "6": {"class_type": "CaptureOutput", "inputs": {"value": ["4", 0]}}}
    result, _ = run(executor, prompt)
    via_pack, via_core = result.outputs["5"]["value"][0]["samples"], result.outputs["6"]["value"][0]["samples"]
    assert via_pack.shape == (1, 4, SIZE // 8, SIZE // 8)
    torch.testing.assert_close(via_pack, via_core, rtol=0, atol=0)


def test_latent_preview_callback_reports_progress_with_a_preview_per_step(loom):
    _, executor = loom
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
              "2": {"class_type": "EmptyLatentImage", "inputs": {"width": SIZE, "height": SIZE, "batch_size": 1}},
              "3": {"class_type": "ModelPackPreview", "inputs": {"model": ["1", 0], "samples": ["2", 0]}},
              "4": {"class_type": "CaptureOutput", "inputs": {"value": ["3", 0]}}}
    _, events = run(executor, prompt)
    progress = [(e["value"], e["max"]) for e in events.of_type(PROGRESS) if e["node"] == "3"]
    assert progress == [(1, 2), (2, 2)]
    previews = [e for e in events.of_type(PREVIEW) if e["node"] == "3"]
    assert len(previews) == 2 and previews[0]["image"].size == (SIZE // 8, SIZE // 8)


def test_comfy_sd_load_clip_reads_a_text_encoder_file_like_cliploader(loom):
    registry, executor = loom
    folders = registry.services.folders
    run(executor, {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
                   "2": {"class_type": "CLIPSave", "inputs": {"clip": ["1", 1], "filename_prefix": "te/tiny"}}})
    [saved] = (folders.output_dir / "te").glob("tiny_clip_l_*.safetensors")
    encoders = folders.models_dir / "text_encoders"
    encoders.mkdir(parents=True, exist_ok=True)
    saved.rename(encoders / saved.name)

    def encoded(clip_node: dict) -> torch.Tensor:
        prompt = {"1": clip_node, "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 0], "text": "a fox"}},
                  "3": {"class_type": "CaptureOutput", "inputs": {"value": ["2", 0]}}}
        return run(executor, prompt)[0].outputs["3"]["value"][0][0][0]

    via_pack = encoded({"class_type": "ModelPackLoadClip", "inputs": {"clip_name": saved.name}})
    via_core = encoded({"class_type": "CLIPLoader", "inputs": {"clip_name": saved.name, "type": "stable_diffusion"}})
    assert via_pack.shape[-1] > 0
    torch.testing.assert_close(via_pack, via_core, rtol=0, atol=0)


def test_model_classes_packs_test_with_isinstance_match_loom_models_by_family(loom):
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models

    import nodes

    model, clip, vae = nodes.CheckpointLoaderSimple().load_checkpoint(CKPT)  # ComfyUI's FUNCTION and order
    assert clip is not None and vae is not None
    assert isinstance(model, comfy.model_patcher.ModelPatcher)
    assert isinstance(model.model, comfy.model_base.BaseModel)
    assert not isinstance(model.model, comfy.model_base.SDXL)
    assert isinstance(model.model.model_config, comfy.supported_models.SD15)
    assert not isinstance(model.model.model_config, comfy.supported_models.SDXL)
