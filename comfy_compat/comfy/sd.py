"""ComfyUI's `comfy.sd`: load_checkpoint_guess_config, load_diffusion_model, load_lora_for_models and the
CLIP / VAE classes, which are Loom's own CLIP and VAE values (engine/values/model.py; MODEL is engine/values/model_patcher.py), loaded through
Loom's model manager (nothing is read until a node uses the model).
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from comfy_compat import state
from comfy_compat.comfy import model_detection  # noqa: F401 - reachable from here in ComfyUI too
from engine.models.lora.apply import LoRAFile
from engine.models.lora.formats import build_adapters
from engine.values.model import TextEncoderModel as CLIP
from engine.values.model import VAEModel as VAE
from engine.values.model import detect_checkpoint_file, text_encoder_model, unet_handle, vae_model
from engine.values.model_patcher import ModelPatcher

__all__ = ["CLIP", "VAE", "CLIPType", "load_checkpoint_guess_config", "load_diffusion_model",
           "load_lora_for_models"]


class CLIPType(enum.Enum):
    STABLE_DIFFUSION = 1
    STABLE_CASCADE = 2
    SD3 = 3
    STABLE_AUDIO = 4
    HUNYUAN_DIT = 5
    FLUX = 6
    MOCHI = 7
    LTXV = 8
    HUNYUAN_VIDEO = 9
    PIXART = 10
    COSMOS = 11
    LUMINA2 = 12
    WAN = 13
    HIDREAM = 14
    CHROMA = 15
    ACE = 16
    OMNIGEN2 = 17
    QWEN_IMAGE = 18
    HUNYUAN_IMAGE = 19


def load_checkpoint_guess_config(ckpt_path: str, output_vae: bool = True, output_clip: bool = True,
                                 output_clipvision: bool = False, embedding_directory: Any = None,
                                 output_model: bool = True, model_options: dict | None = None,
                                 te_model_options: dict | None = None) -> tuple:
    """(MODEL, CLIP, VAE, CLIP_VISION) of a single-file checkpoint; the family is detected from its keys."""
    path = Path(ckpt_path)
    manager = state.model_manager()
    config = detect_checkpoint_file(path)
    model = ModelPatcher(unet_handle(manager, path, config), config) if output_model else None
    embeddings = state.folders().folders_for("embeddings")
    clip = text_encoder_model(manager, path, config, embeddings) if output_clip else None
    vae = vae_model(manager, path, config.vae_prefix, config.vae) if output_vae and config.vae is not None else None
    clip_vision = None
    if output_clipvision:
        raise NotImplementedError("comfy.sd.load_checkpoint_guess_config(output_clipvision=True): load the "
                                  "CLIP vision tower with comfy.clip_vision.load or ImageOnlyCheckpointLoader")
    return model, clip, vae, clip_vision


def load_checkpoint(config_path: Any = None, ckpt_path: str | None = None, output_vae: bool = True,
                    output_clip: bool = True, embedding_directory: Any = None, **options: Any) -> tuple:
    """Like load_checkpoint_guess_config (Loom detects the architecture; the YAML is not needed)."""
    return load_checkpoint_guess_config(ckpt_path, output_vae, output_clip)[:3]


def load_diffusion_model(unet_path: str, model_options: dict | None = None) -> ModelPatcher:
    """A MODEL from a checkpoint file (its UNet)."""
    path = Path(unet_path)
    config = detect_checkpoint_file(path)
    return ModelPatcher(unet_handle(state.model_manager(), path, config), config)


load_unet = load_diffusion_model


def load_lora_for_models(model: Any, clip: Any, lora: dict, strength_model: float, strength_clip: float) -> tuple:
    """(model, clip) with the patches of a LoRA state dict (what comfy.utils.load_torch_file returns)."""
    from nodes.lora import apply_lora_file

    adapters, unknown = build_adapters(lora)
    return apply_lora_file("load_lora_for_models", LoRAFile("lora", adapters, unknown), model, clip,
                           strength_model, strength_clip)


def _clip_name(path: str) -> str:
    """A text-encoder file's name relative to the text_encoders folder holding it."""
    resolved = Path(path).resolve()
    for folder in state.folders().folders_for("clip"):
        if resolved.is_relative_to(folder.resolve()):
            return resolved.relative_to(folder.resolve()).as_posix()
    raise ValueError(f"comfy.sd.load_clip: {path} is not in a text_encoders folder "
                     f"({', '.join(str(f) for f in state.folders().folders_for('clip'))})")


def load_clip(ckpt_paths: list[str], embedding_directory: Any = None, clip_type: CLIPType = CLIPType.STABLE_DIFFUSION,
              model_options: dict | None = None) -> CLIP:
    """A CLIP from one text-encoder file (SD1.x / SD2.x / refiner) or two (SDXL), loaded by Loom's
    CLIPLoader / DualCLIPLoader nodes."""
    from comfy_compat.comfy_nodes import attribute

    names = [_clip_name(path) for path in ckpt_paths]
    if len(names) == 1 and clip_type == CLIPType.STABLE_DIFFUSION:
        return attribute("CLIPLoader")().load_clip(names[0], "stable_diffusion")[0]
    if len(names) == 2:
        return attribute("DualCLIPLoader")().load_clip(names[0], names[1], "sdxl")[0]
    raise NotImplementedError(f"comfy.sd.load_clip: {clip_type} with {len(names)} files is a text encoder "
                              "Loom does not load")
