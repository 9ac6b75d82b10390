"""Loaders for model parts shipped alone (ComfyUI's UNETLoader, CLIPLoader, DualCLIPLoader) and the
checkpoint loader that takes an LDM config (CheckpointLoader). Each gives the same MODEL / CLIP value a
full checkpoint of that family gives; weights load when used."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field

from engine.graph.native import Combo, Node, Out, node
from engine.memory import ModelManager, file_key
from engine.models.checkpoint import open_checkpoint
from engine.models.checkpoint_layout import TEXT_PREFIXES
from engine.models.clip import load_clip
from engine.models.detect import CheckpointConfig, UnsupportedCheckpoint
from engine.models.standalone import (
    hf_tower,
    text_tower_kind,
    tower_in_layout,
    unet_file_config,
    unet_weights,
)
from engine.models.unet import UNetModel
from engine.values.model import TextEncoderModel, TextTowers
from engine.values.model_patcher import ModelPatcher
from nodes.loaders import load_checkpoint
from nodes.model_files import file_version, folders_of, model_files, model_manager

log = logging.getLogger(__name__)

ADVANCED = "advanced/loaders"
CLIP_TYPES = ["stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart", "cosmos",
              "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image", "hunyuan_image"]
DUAL_CLIP_TYPES = ["sdxl", "sd3", "flux", "hunyuan_video", "hidream", "hunyuan_image"]
DEVICE = Combo(["default", "cpu"], advanced=True)
_LAYER = re.compile(r"^(?:text_model\.encoder\.layers|transformer\.resblocks)\.(\d+)\.")


@functools.lru_cache(maxsize=32)
def _unet_config(key: str, path: str) -> CheckpointConfig:
    source = open_checkpoint(path)
    return unet_file_config(unet_weights(source), source.metadata)


def unet_model(manager: ModelManager, path: Path, what: str, prediction_type: str | None = None) -> ModelPatcher:
    """MODEL of a standalone UNet file (`what` names it in errors); `prediction_type` overrides detection."""
    try:
        config = _unet_config(file_key(path, "unet-config"), str(path))
    except UnsupportedCheckpoint as exc:
        raise UnsupportedCheckpoint(f"{what}: {exc}") from None
    if prediction_type is not None:
        config = dataclasses.replace(config, prediction_type=prediction_type, prediction_source="config")
    handle = manager.handle(
        file_key(path, "unet"), name=f"{path.name} (unet)", kind="unet",
        build=lambda: UNetModel(config.unet), state_dict=lambda: unet_weights(open_checkpoint(path)))
    return ModelPatcher(handle, config)


@node(category=ADVANCED, display_name="Load Diffusion Model", outputs=[Out("MODEL")])
class UNETLoader(Node):
    """Load a diffusion model (UNet) file from models/diffusion_models (or models/unet): LDM layout, bare or
    under `model.diffusion_model.`, or diffusers' UNet2DConditionModel layout; SD1, SD2 and SDXL."""

    unet_name: Annotated[str, model_files("diffusion_models", "A file in models/diffusion_models.")]
    weight_dtype: Literal["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"]

    def run(self, ctx):
        path = folders_of(ctx).find("diffusion_models", self.unet_name)
        if self.weight_dtype != "default":
            log.warning("UNETLoader: weight_dtype %s is not used; %s computes in the model manager's dtype",
                        self.weight_dtype, self.unet_name)
        return (unet_model(model_manager(ctx), path, f"UNETLoader: unet_name {self.unet_name!r}"),)

    @classmethod
    def is_changed(cls, unet_name: str) -> str:
        return file_version("diffusion_models", unet_name)


def _layers(path: Path) -> int:
    indices = {int(m[1]) for k in open_checkpoint(path).shapes() if (m := _LAYER.match(k))}
    return max(indices) + 1 if indices else 0


def text_encoder_files(manager: ModelManager, paths: Sequence[Path], towers: Sequence[str], family: str,
                       embedding_dirs: Sequence[Path]) -> TextEncoderModel:
    """The CLIP value of standalone text-encoder files, `towers[i]` ("l", "h", "g") read from `paths[i]`."""
    layout = TEXT_PREFIXES[family]

    def weights() -> dict:
        tensors = {}
        for path, tower in zip(paths, towers):
            prefix, open_clip_layout = layout[tower]
            tensors |= tower_in_layout(hf_tower(open_checkpoint(path)), open_clip_layout, prefix)
        return tensors

    handle = manager.handle(
        "+".join(file_key(path, f"clip:{family}:{tower}") for path, tower in zip(paths, towers)),
        name=f"{' + '.join(p.name for p in paths)} (clip)", kind="clip",
        load=lambda tensors: TextTowers(load_clip(tensors, family, embedding_dirs)), state_dict=weights)
    return TextEncoderModel(handle)


def _unsupported(node_name: str, kind: str, supported: str) -> ValueError:
    return ValueError(f"{node_name}: type {kind!r} is for a model family Loom does not run yet "
                      f"(supported: {supported})")


@node(category=ADVANCED, display_name="Load CLIP", outputs=[Out("CLIP")])
class CLIPLoader(Node):
    """Load a standalone text encoder from models/text_encoders (or models/clip). For stable_diffusion the
    depth picks the family as in ComfyUI: CLIP-L (SD1.x), OpenCLIP-H (23+ layers, SD2.x), bigG (31+ layers,
    the SDXL refiner). `device` is accepted; Loom's model manager decides placement."""

    clip_name: Annotated[str, model_files("clip", "A file in models/text_encoders.")]
    type: Literal[tuple(CLIP_TYPES)]
    device: Annotated[str | None, DEVICE] = Field(None)

    def run(self, ctx):
        if self.type != "stable_diffusion":
            raise _unsupported("CLIPLoader", self.type, "stable_diffusion")
        folders = folders_of(ctx)
        path = folders.find("clip", self.clip_name)
        tower = text_tower_kind(_layers(path))
        family = {"l": "sd1", "h": "sd2", "g": "sdxl_refiner"}[tower]
        return (text_encoder_files(model_manager(ctx), [path], [tower], family, folders.folders_for("embeddings")),)

    @classmethod
    def is_changed(cls, clip_name: str) -> str:
        return file_version("clip", clip_name)


@node(category=ADVANCED, display_name="DualCLIPLoader", outputs=[Out("CLIP")])
class DualCLIPLoader(Node):
    """Load SDXL's two text encoders from separate files (CLIP-L and bigG, in either order: the deeper
    one, or else the second, is bigG)."""

    clip_name1: Annotated[str, model_files("clip", "A file in models/text_encoders.")]
    clip_name2: Annotated[str, model_files("clip", "A file in models/text_encoders.")]
    type: Literal[tuple(DUAL_CLIP_TYPES)]
    device: Annotated[str | None, DEVICE] = Field(None)

    def run(self, ctx):
        if self.type != "sdxl":
            raise _unsupported("DualCLIPLoader", self.type, "sdxl")
        folders = folders_of(ctx)
        paths = [folders.find("clip", self.clip_name1), folders.find("clip", self.clip_name2)]
        depth = [_layers(p) for p in paths]
        towers = ["g", "l"] if depth[0] > depth[1] else ["l", "g"]
        manager = model_manager(ctx)
        return (text_encoder_files(manager, paths, towers, "sdxl", folders.folders_for("embeddings")),)

    @classmethod
    def is_changed(cls, clip_name1: str, clip_name2: str) -> str:
        return file_version("clip", clip_name1) + file_version("clip", clip_name2)


def _config_settings(path: Path) -> tuple[str | None, int | None]:
    """(prediction type, clip-skip layer) an LDM inference YAML sets: `parameterization: v`, and the
    text encoder's `layer: hidden` + `layer_idx` (None where the file does not say)."""
    params = ((yaml.safe_load(path.read_text()) or {}).get("model") or {}).get("params") or {}
    prediction = "v" if params.get("parameterization") == "v" else "eps"
    text = (params.get("cond_stage_config") or {}).get("params") or {}
    layer = text.get("layer_idx") if text.get("layer") == "hidden" else None
    return prediction, layer


@node(category=ADVANCED, display_name="Load Checkpoint With Config (DEPRECATED)", deprecated=True,
      outputs=[Out("MODEL"), Out("CLIP"), Out("VAE")])
class CheckpointLoader(Node):
    """Load a checkpoint with an LDM inference YAML from models/configs; sizes still come from the weights,
    the YAML sets the prediction type (`parameterization: v`) and a hidden-layer clip skip."""

    config_name: Annotated[str, Combo(lambda folders: folders.list("configs", (".yaml",)) if folders else [],
                                      tooltip="A file in models/configs.", model_folder="configs")]
    ckpt_name: Annotated[str, model_files("checkpoints", "A file in models/checkpoints.")]

    def run(self, ctx):
        prediction, layer = _config_settings(folders_of(ctx).find("configs", self.config_name))
        model, clip, vae = load_checkpoint(ctx, "CheckpointLoader", self.ckpt_name)
        model = ModelPatcher(model.handle, dataclasses.replace(model.config, prediction_type=prediction,
                                                                prediction_source="config"))
        return (model, clip.with_layer(layer) if layer is not None and clip is not None else clip, vae)

    @classmethod
    def is_changed(cls, config_name: str, ckpt_name: str) -> str:
        return file_version("configs", config_name) + file_version("checkpoints", ckpt_name)
