"""Tiny SD1.5 / SDXL / SD2.1-v checkpoint pairs (two seeds each) and a Loom installation over them, with
the output folder's checkpoints/, clip/, vae/ and diffusion_models/ searched too, so saved files reload by
name; a prompt fragment that samples and captures latent and conditioning."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.workflow_runner import Loom

PAIRS = {"sd15": ("v1-5-pruned-emaonly.safetensors", "dreamshaper_8.safetensors"),
         "sdxl": ("sd_xl_base_1.0.safetensors", "juggernaut_xl.safetensors"),
         "sd21v": ("v2-1_768-ema-pruned.safetensors", "v2-1_768-other.safetensors")}


@pytest.fixture(scope="session")
def merge_models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    for family, names in PAIRS.items():
        for seed, name in enumerate(names):
            make_tiny_checkpoint(family, root / "checkpoints" / name, seed=seed)
    return root


@pytest.fixture
def loom(tmp_path, merge_models_dir) -> Loom:
    installation = Loom(tmp_path, merge_models_dir)
    for kind, folder in (("checkpoints", "checkpoints"), ("clip", "clip"), ("vae", "vae"),
                         ("diffusion_models", "diffusion_models")):
        installation.folders.add_model_folder(kind, installation.folders.output_dir / folder)
    return installation


@pytest.fixture
def source(merge_models_dir):
    """source(name) -> the tensors of a checkpoint in the models folder."""
    return lambda name: load_file(str(merge_models_dir / "checkpoints" / name))


def sample_prompt(model: list, clip: list, vae: list | None = None) -> dict:
    """Nodes 20..26: encode two prompts with `clip`, sample 3 steps with `model`, capture the latent and the
    positive conditioning (and decode with `vae` when given)."""
    prompt = {
        "20": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox in the snow", "clip": clip}},
        "21": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": clip}},
        "22": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "23": {"class_type": "KSampler", "inputs": {
            "seed": 7, "steps": 3, "cfg": 5.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
            "model": model, "positive": ["20", 0], "negative": ["21", 0], "latent_image": ["22", 0]}},
        "24": {"class_type": "CaptureLatent", "inputs": {"samples": ["23", 0]}},
        "25": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["20", 0]}},
    }
    if vae is not None:
        prompt["26"] = {"class_type": "VAEDecode", "inputs": {"samples": ["23", 0], "vae": vae}}
        prompt["27"] = {"class_type": "SaveImage", "inputs": {"images": ["26", 0], "filename_prefix": "s"}}
    return prompt


def captured(result) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """(latent samples, positive embedding, positive options) captured by `sample_prompt`'s nodes."""
    embedding, options = result.outputs["25"]["conditioning"][0][0]
    return result.outputs["24"]["latent"][0]["samples"], embedding, options
