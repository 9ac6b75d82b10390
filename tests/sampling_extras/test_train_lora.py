"""LoRA training on the tiny SD1.5 checkpoint, on the CPU: TrainLoraNode lowers the loss of every step of
the run's second half against the same run with a negligible learning rate (same seeds: same latents,
noise and sigmas at every step; sigmas vary, so losses are compared step by step), SaveLoRANode
writes a file (LoRA or LoHa) LoraLoaderModelOnly loads into the model TrainLoraNode returned, and
LossGraphNode plots."""

import shutil

import pytest
import torch

from engine.graph.context import ExecutionContext, Services
from nodes.loaders import CheckpointLoaderSimple
from nodes.lora import LoraLoaderModelOnly
from nodes.sampling import KSampler
from nodes.text_encode import CLIPTextEncode
from nodes.training import LossGraphNode, SaveLoRANode, TrainLoraNode
from tests.fixtures.workflow_runner import Loom

STEPS = 12


@pytest.fixture
def ctx(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    return ExecutionContext("1", "p", {}, Services(folders=loom.folders, models=loom.manager), sink=loom.events)


def train(ctx, learning_rate: float, **settings):
    model, clip, _ = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    (positive,) = CLIPTextEncode(text="a red square", clip=clip).run(ctx)
    latents = {"samples": torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(5))}
    options = {"batch_size": 1, "grad_accumulation_steps": 1, "steps": STEPS, "learning_rate": learning_rate,
               "rank": 4, "optimizer": "AdamW", "loss_function": "MSE", "seed": 7, "training_dtype": "fp32",
               "lora_dtype": "fp32", "algorithm": "LoRA", "gradient_checkpointing": True,
               "existing_lora": "[None]"} | settings
    return model, positive, TrainLoraNode(model=model, latents=latents, positive=positive, **options).run(ctx)


def test_training_lowers_the_loss_against_an_untrained_run_on_the_same_draws(ctx):
    _, _, (_, _, trained, steps) = train(ctx, 0.01)
    _, _, (_, _, untrained, _) = train(ctx, 1e-7)
    assert steps == STEPS and len(trained["loss"]) == len(untrained["loss"]) == STEPS
    assert trained["loss"][0] == pytest.approx(untrained["loss"][0], rel=1e-4)  # same start
    late = range(STEPS // 2, STEPS)  # step by step: the same latent, noise and sigma in both runs
    assert all(trained["loss"][i] < untrained["loss"][i] for i in late)


@pytest.mark.parametrize(("algorithm", "factor"), [("LoRA", ".lora_up.weight"), ("LoHa", ".hada_w1_a")])
def test_saved_lora_loads_with_lora_loader_into_the_trained_model(ctx, models_dir, algorithm, factor):
    model, positive, (with_lora, lora, loss, steps) = train(ctx, 0.01, steps=4, algorithm=algorithm)
    assert any(k.endswith(factor) for k in lora) and any(k.endswith(".diff_b") for k in lora)
    SaveLoRANode(lora=lora, prefix=f"loras/{algorithm}", steps=steps).run(ctx)
    saved = ctx.services.folders.output_dir / "loras" / f"{algorithm}_4_steps_00001_.safetensors"
    assert saved.is_file()
    shutil.copy(saved, models_dir / "loras" / saved.name)
    (loaded,) = LoraLoaderModelOnly(model=model, lora_name=saved.name, strength_model=1.0).run(ctx)
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    sample = {"seed": 1, "steps": 2, "cfg": 1.0, "sampler_name": "euler", "scheduler": "normal",
              "positive": positive, "negative": positive, "latent_image": latent, "denoise": 1.0}
    (from_file,) = KSampler(model=loaded, **sample).run(ctx)
    (from_node,) = KSampler(model=with_lora, **sample).run(ctx)
    (base,) = KSampler(model=model, **sample).run(ctx)
    assert torch.allclose(from_file["samples"], from_node["samples"], atol=1e-5)
    assert not torch.allclose(from_file["samples"], base["samples"], atol=1e-4)
    ui = LossGraphNode(loss=loss, filename_prefix="loss_graph").run(ctx).ui
    assert ui["images"][0]["type"] == "temp"


def test_training_workflow_runs_headless_and_saves_the_lora(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["1", 1]}},
        "3": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "4": {"class_type": "TrainLoraNode", "inputs": {
            "model": ["1", 0], "latents": ["3", 0], "positive": ["2", 0], "batch_size": 1,
            "grad_accumulation_steps": 2, "steps": 2, "learning_rate": 0.001, "rank": 2, "optimizer": "SGD",
            "loss_function": "Huber", "seed": 3, "training_dtype": "bf16", "lora_dtype": "bf16",
            "algorithm": "LoRA", "gradient_checkpointing": False, "existing_lora": "[None]"}},
        "5": {"class_type": "SaveLoRANode", "inputs": {"lora": ["4", 1], "prefix": "loras/wf", "steps": ["4", 3]}},
        "6": {"class_type": "LossGraphNode", "inputs": {"loss": ["4", 2], "filename_prefix": "loss_graph"}},
    }
    result = loom.run(prompt)
    assert (loom.folders.output_dir / "loras" / "wf_2_steps_00001_.safetensors").is_file()
    assert result.outputs["6"]["images"][0]["filename"].startswith("loss_graph")


def test_training_continues_an_existing_lora_and_counts_its_steps(ctx, models_dir):
    _, _, (_, lora, _, steps) = train(ctx, 0.01, steps=2)
    SaveLoRANode(lora=lora, prefix="loras/first", steps=steps).run(ctx)
    name = "first_2_steps_00001_.safetensors"
    shutil.copy(ctx.services.folders.output_dir / "loras" / name, models_dir / "loras" / name)
    _, _, (_, continued, _, total) = train(ctx, 1e-7, steps=1, existing_lora=name)
    assert total == 3
    assert continued.keys() == lora.keys()
    assert all(torch.allclose(continued[k], lora[k], atol=1e-5) for k in lora)
