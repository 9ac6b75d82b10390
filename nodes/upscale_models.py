"""Upscale models (ESRGAN, Real-ESRGAN, SwinIR, DAT, ... as detected by `spandrel`) and running them over an
image in overlapping 512-pixel tiles blended with ComfyUI's linear feathering, so large images fit in memory
and results match ComfyUI's."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import torch
from safetensors.torch import load_file

from engine.graph.native import Node, Out, Socket, node
from nodes.model_files import file_version, folders_of, model_files

if TYPE_CHECKING:
    from spandrel import ImageModelDescriptor

TILE, OVERLAP = 512, 32
SAFETENSORS = (".safetensors", ".sft")


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A .safetensors / .pth / .pt file's tensors on the CPU (pickles restricted to plain tensors)."""
    if path.suffix.lower() in SAFETENSORS:
        return load_file(str(path), device="cpu")
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    return loaded.get("state_dict", loaded) if isinstance(loaded, dict) else loaded


def load_upscale_model(path: Path) -> ImageModelDescriptor:
    """The image-to-image model in `path`, in eval mode; a clear error for other architectures."""
    from spandrel import ImageModelDescriptor, ModelLoader  # seconds to import (torchvision): only when used

    weights = read_weights(path)
    if "module.layers.0.residual_group.blocks.0.norm1.weight" in weights:  # SwinIR saved from DataParallel
        weights = {k.removeprefix("module."): v for k, v in weights.items()}
    model = ModelLoader().load_from_state_dict(weights).eval()
    if not isinstance(model, ImageModelDescriptor):
        raise TypeError(f"UpscaleModelLoader: {path.name} holds a {type(model).__name__}, not a single-image "
                         "upscale model")
    return model


@node(category="loaders", display_name="Load Upscale Model", outputs=[Out("UPSCALE_MODEL")])
class UpscaleModelLoader(Node):
    """Load an upscale model from models/upscale_models (architecture detected from the weights)."""

    model_name: Annotated[str, model_files("upscale_models", "A file in models/upscale_models.")]

    def run(self, ctx):
        return (load_upscale_model(folders_of(ctx).find("upscale_models", self.model_name)),)

    @classmethod
    def is_changed(cls, model_name: str) -> str:
        return file_version("upscale_models", model_name)


def _feather(piece: torch.Tensor, feather: int) -> torch.Tensor:
    """Weights for one tile: linear ramps (t + 1) / feather at both ends of each side."""
    mask = torch.ones_like(piece)
    for dim in (2, 3):
        if feather >= mask.shape[dim]:
            continue
        for t in range(feather):
            mask.narrow(dim, t, 1).mul_((t + 1) / feather)
            mask.narrow(dim, mask.shape[dim] - 1 - t, 1).mul_((t + 1) / feather)
    return mask


def tiled_upscale(images: torch.Tensor, model: Callable[[torch.Tensor], torch.Tensor], scale: float,
                  tile: int = TILE, overlap: int = OVERLAP) -> torch.Tensor:
    """Run `model` over [B,C,H,W] one image at a time, in tile x tile pieces overlapping by `overlap`,
    averaging the overlaps with feathered weights; an image that fits in one tile runs whole."""
    batch, _, height, width = images.shape
    out_size = [round(scale * height), round(scale * width)]
    output = torch.empty([batch, 3, *out_size])
    feather = round(scale * overlap)
    for b in range(batch):
        image = images[b:b + 1]
        if height <= tile and width <= tile:
            output[b:b + 1] = model(image).cpu()
            continue
        total, weights = torch.zeros([1, 3, *out_size]), torch.zeros([1, 3, *out_size])
        starts = [range(0, size - overlap, tile - overlap) if size > tile else [0] for size in (height, width)]
        for y, x in itertools.product(*starts):
            y, x = max(0, min(height - overlap, y)), max(0, min(width - overlap, x))
            piece = model(image[..., y:y + min(tile, height - y), x:x + min(tile, width - x)]).cpu()
            mask = _feather(piece, feather)
            top, left = round(scale * y), round(scale * x)
            region = (..., slice(top, top + piece.shape[2]), slice(left, left + piece.shape[3]))
            total[region] += piece * mask
            weights[region] += mask
        output[b:b + 1] = total / weights
    return output


def _device(ctx) -> torch.device:
    manager = ctx.services.models
    return manager.device if manager is not None else torch.device("cpu")


@node(category="image/upscaling", display_name="Upscale Image (using Model)", outputs=[Out("IMAGE")])
class ImageUpscaleWithModel(Node):
    """Upscale with a loaded model (tiled), clipped to 0..1."""

    upscale_model: Annotated[object, Socket("UPSCALE_MODEL")]
    image: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        model, device = self.upscale_model, _device(ctx)
        model.to(device)
        try:
            with torch.inference_mode():
                upscaled = tiled_upscale(self.image.movedim(-1, -3).to(device), model, model.scale)
        finally:
            model.to("cpu")
        return (torch.clamp(upscaled.movedim(-3, -1), min=0, max=1.0),)
