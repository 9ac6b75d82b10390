"""DiffusersLoader: a diffusers-format model folder (model_index.json with unet/, vae/, text_encoder/ and,
for SDXL, text_encoder_2/) from models/diffusers, as the MODEL, CLIP and VAE a single-file checkpoint of the
same family gives."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import torch

from engine.graph.native import Combo, Node, Out, node
from engine.memory import ModelManager, file_key
from engine.models.checkpoint import open_checkpoint
from engine.models.detect import infer_vae_config
from engine.models.diffusers_vae import diffusers_vae_to_ldm
from engine.models.vae import AutoencoderKL
from engine.values.model import VAEModel
from nodes.model_files import folders_of, model_manager
from nodes.part_loaders import text_encoder_files, unet_model

WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors",
                "model.safetensors", "model.fp16.safetensors", "diffusion_pytorch_model.bin", "pytorch_model.bin")
# family -> (text tower, subfolder) in the order the CLIP holds them
TEXT_TOWERS = {"sd1": (("l", "text_encoder"),), "sd2": (("h", "text_encoder"),),
               "sdxl": (("l", "text_encoder"), ("g", "text_encoder_2")), "sdxl_refiner": (("g", "text_encoder_2"),)}


def model_folders(folders) -> list[str]:
    """Every folder under models/diffusers holding a model_index.json, relative, with forward slashes."""
    found = set()
    for root in folders.folders_for("diffusers") if folders is not None else []:
        for folder, _, files in os.walk(root, followlinks=True):
            if "model_index.json" in files:
                found.add(Path(folder).relative_to(root).as_posix())
    return sorted(found)


def _weights(folder: Path, part: str) -> Path:
    for name in WEIGHT_FILES:
        if (folder / part / name).is_file():
            return folder / part / name
    raise FileNotFoundError(f"DiffusersLoader: {folder.name}/{part} holds none of {', '.join(WEIGHT_FILES)}")


def _prediction_type(folder: Path) -> str | None:
    config = folder / "scheduler" / "scheduler_config.json"
    if not config.is_file():
        return None
    return "v" if json.loads(config.read_text()).get("prediction_type") == "v_prediction" else "eps"


def diffusers_vae(manager: ModelManager, path: Path) -> VAEModel:
    shapes = {k: torch.empty(s, device="meta") for k, s in open_checkpoint(path).shapes().items()}
    config = infer_vae_config({k: tuple(v.shape) for k, v in diffusers_vae_to_ldm(shapes).items()})
    handle = manager.handle(file_key(path, "vae"), name=f"{path.parent.parent.name} (vae)", kind="vae",
                            build=lambda: AutoencoderKL(config),
                            state_dict=lambda: diffusers_vae_to_ldm(open_checkpoint(path)))
    return VAEModel(handle, config)


@node(category="advanced/loaders/deprecated", display_name="DiffusersLoader",
      outputs=[Out("MODEL"), Out("CLIP"), Out("VAE")])
class DiffusersLoader(Node):
    """Load a diffusers-format SD1.x / SD2.x / SDXL folder from models/diffusers."""

    model_path: Annotated[str, Combo(model_folders, tooltip="A folder in models/diffusers.", model_folder="diffusers")]

    def run(self, ctx):
        folders, manager = folders_of(ctx), model_manager(ctx)
        root = next((r / self.model_path for r in folders.folders_for("diffusers")
                     if (r / self.model_path / "model_index.json").is_file()), None)
        if root is None:
            raise FileNotFoundError(f"DiffusersLoader: no {self.model_path}/model_index.json in "
                                    f"{', '.join(map(str, folders.folders_for('diffusers')))}")
        model = unet_model(manager, _weights(root, "unet"), f"DiffusersLoader: {self.model_path}/unet",
                           _prediction_type(root))
        towers = TEXT_TOWERS[model.config.family]
        clip = text_encoder_files(manager, [_weights(root, part) for _, part in towers], [t for t, _ in towers],
                                  model.config.family, folders.folders_for("embeddings"))
        return (model, clip, diffusers_vae(manager, _weights(root, "vae")))
