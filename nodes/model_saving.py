"""Save nodes for models (ComfyUI's CheckpointSave, ModelSave, CLIPSave, VAESave, ImageOnlyCheckpointSave):
the weights as placed, patches and merges applied, written as .safetensors in the layout real files use,
under the output folder.

Names follow SaveImage's rule: `<prefix>_00001_.safetensors`, counting on; the prefix may hold subfolders
(ComfyUI's defaults put checkpoints in output/checkpoints/). The API prompt and workflow go in the metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import torch
from safetensors.torch import save_file

from engine.graph.native import Node, Socket, Widget, node
from engine.models.checkpoint_layout import (
    SVD_VISION_PREFIX,
    TOWER_FILE_NAMES,
    prediction_markers,
    text_tensors,
    text_tower_tensors,
    unet_tensors,
    vae_tensors,
    vision_tensors,
)
from engine.paths import UnsafePath
from nodes.model_files import folders_of, model_manager
from nodes.save_names import expand_prefix, next_counter, split_prefix

MERGING = "advanced/model_merging"
PREFIX_TOOLTIP = "File name prefix under the output folder; may include subfolders."


def prompt_metadata(ctx) -> dict[str, str]:
    """The API prompt and the canvas workflow as safetensors metadata (none with --disable-metadata)."""
    if (ctx.services.settings or {}).get("disable_metadata"):
        return {}
    metadata = {"prompt": json.dumps(ctx.prompt) if ctx.prompt is not None else ""}
    return metadata | {key: json.dumps(value) for key, value in (ctx.extra_pnginfo or {}).items()}


def output_path(ctx, node_name: str, prefix: str) -> tuple[Path, str, int]:
    """(folder, file name stem, counter) for a new file under the output folder."""
    subfolder, name = split_prefix(expand_prefix(prefix, 0, 0, ctx.prompt))
    try:
        folder = folders_of(ctx).safe_join("output", subfolder, name).parent
    except UnsafePath as exc:
        raise UnsafePath(f"{node_name}: filename_prefix {prefix!r} would write outside the output folder: "
                         f"{exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    return folder, name, next_counter(folder, name)


def write_model_file(ctx, node_name: str, prefix: str, tensors: dict[str, torch.Tensor],
                     metadata: dict[str, str]) -> Path:
    folder, name, counter = output_path(ctx, node_name, prefix)
    path = folder / f"{name}_{counter:05}_.safetensors"
    save_file(tensors, str(path), metadata=metadata)
    return path


def checkpoint_tensors(ctx, model, clip=None, vae=None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a single-file checkpoint holding the given parts."""
    manager = model_manager(ctx)
    metadata, tensors = prediction_markers(model.config.family, model.config.prediction_type)
    with manager.use(model.handle) as unet:
        tensors |= unet_tensors(unet)
    if clip is not None:
        with manager.use(clip.handle) as towers:
            tensors |= text_tensors(dict(towers.towers))
    if vae is not None:
        with manager.use(vae.handle) as autoencoder:
            tensors |= vae_tensors(autoencoder)
    return tensors, metadata


def _require(node_name: str, name: str, value, expected: str):
    if value is None:
        raise ValueError(f"{node_name}: input {name!r} is None; expected a {expected} (the loader gave none?)")
    return value


@node(category=MERGING, display_name="Save Checkpoint", outputs=[], output_node=True)
class CheckpointSave(Node):
    """Save MODEL, CLIP and VAE as one checkpoint that loads in ComfyUI, A1111 and Loom."""

    model: Annotated[object, Socket("MODEL")]
    clip: Annotated[object, Socket("CLIP")]
    vae: Annotated[object, Socket("VAE")]
    filename_prefix: Annotated[str, Widget(tooltip=PREFIX_TOOLTIP)] = "checkpoints/ComfyUI"

    def run(self, ctx):
        clip = _require("CheckpointSave", "clip", self.clip, "CLIP")
        vae = _require("CheckpointSave", "vae", self.vae, "VAE")
        tensors, markers = checkpoint_tensors(ctx, self.model, clip, vae)
        write_model_file(ctx, "CheckpointSave", self.filename_prefix, tensors, markers | prompt_metadata(ctx))
        return ()


@node(category=MERGING, display_name="ModelSave", outputs=[], output_node=True)
class ModelSave(Node):
    """Save the diffusion model alone (keys under `model.diffusion_model.`, as ComfyUI writes them)."""

    model: Annotated[object, Socket("MODEL")]
    filename_prefix: Annotated[str, Widget(tooltip=PREFIX_TOOLTIP)] = "diffusion_models/ComfyUI"

    def run(self, ctx):
        tensors, markers = checkpoint_tensors(ctx, self.model)
        write_model_file(ctx, "ModelSave", self.filename_prefix, tensors, markers | prompt_metadata(ctx))
        return ()


@node(category=MERGING, display_name="CLIPSave", outputs=[], output_node=True)
class CLIPSave(Node):
    """Save each text encoder as its own standalone file (`<prefix>_clip_l_…`, `<prefix>_clip_g_…`), in the
    transformers layout CLIPLoader reads."""

    clip: Annotated[object, Socket("CLIP")]
    filename_prefix: Annotated[str, Widget(tooltip=PREFIX_TOOLTIP)] = "clip/ComfyUI"

    def run(self, ctx):
        metadata = prompt_metadata(ctx)
        metadata = {"format": "pt"} | metadata if metadata else {}
        with model_manager(ctx).use(self.clip.handle) as towers:
            files = {name: text_tower_tensors(tower, False) for name, tower in towers.towers.items()}
        for name, tensors in files.items():
            prefix = f"{self.filename_prefix}_{TOWER_FILE_NAMES[name]}"
            write_model_file(ctx, "CLIPSave", prefix, tensors, metadata)
        return ()


@node(category=MERGING, display_name="VAESave", outputs=[], output_node=True)
class VAESave(Node):
    """Save the VAE as a standalone file (bare `encoder.` / `decoder.` keys, like vae-ft-mse-840000)."""

    vae: Annotated[object, Socket("VAE")]
    filename_prefix: Annotated[str, Widget(tooltip=PREFIX_TOOLTIP)] = "vae/ComfyUI_vae"

    def run(self, ctx):
        with model_manager(ctx).use(self.vae.handle) as autoencoder:
            tensors = vae_tensors(autoencoder, prefix="")
        write_model_file(ctx, "VAESave", self.filename_prefix, tensors, prompt_metadata(ctx))
        return ()



@node(category=MERGING, display_name="ImageOnlyCheckpointSave", outputs=[], output_node=True)
class ImageOnlyCheckpointSave(Node):
    """Save an image-to-video model (SVD) with its image encoder and VAE in svd.safetensors' layout."""

    model: Annotated[object, Socket("MODEL")]
    clip_vision: Annotated[object, Socket("CLIP_VISION")]
    vae: Annotated[object, Socket("VAE")]
    filename_prefix: Annotated[str, Widget(tooltip=PREFIX_TOOLTIP)] = "checkpoints/ComfyUI"

    def run(self, ctx):
        tensors, markers = checkpoint_tensors(ctx, self.model, vae=self.vae)
        with model_manager(ctx).use(self.clip_vision.handle) as tower:
            tensors |= vision_tensors(tower.model, SVD_VISION_PREFIX)
        write_model_file(ctx, "ImageOnlyCheckpointSave", self.filename_prefix, tensors,
                         markers | prompt_metadata(ctx))
        return ()
