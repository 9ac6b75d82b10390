"""CLIP image encoder nodes: load a clip_vision file (or the one inside an SVD checkpoint) and encode images.

The CLIP_VISION value is a model-manager handle, so the encoder is offloaded like any other model when
the UNet needs the room.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import torch
from torch import nn

from engine.graph.native import Node, Out, Socket, node
from engine.memory import ModelHandle, ModelManager, file_key
from engine.models.checkpoint import open_checkpoint
from engine.models.clip_vision import ClipVision, ClipVisionOutput, find_visual_tower, load_clip_vision
from nodes.model_files import file_version, folders_of, model_files, model_manager


class VisionTower(nn.Module):
    """The image encoder as one managed module; the ClipVision wrapper follows its weights."""

    def __init__(self, vision: ClipVision):
        super().__init__()
        self.model = vision.model
        self.vision = vision


@dataclass(frozen=True)
class ClipVisionModel:
    """CLIP_VISION: the image encoder's handle."""

    handle: ModelHandle


def clip_vision_model(manager: ModelManager, path: Path, prefix: str | None = None) -> ClipVisionModel:
    """The CLIP_VISION value of the visual tower in `path` (found by its keys unless `prefix` is given)."""
    if prefix is None:
        prefix, _ = find_visual_tower(open_checkpoint(path).shapes())
    handle = manager.handle(
        file_key(path, f"clip_vision:{prefix}"), name=f"{path.name} (clip vision)", kind="clip_vision",
        load=lambda weights: VisionTower(load_clip_vision(weights)),
        state_dict=lambda: open_checkpoint(path).with_prefix(prefix),
    )
    return ClipVisionModel(handle)


def encode_images(manager: ModelManager, clip_vision: ClipVisionModel, images: torch.Tensor,
                  crop: bool = True) -> ClipVisionOutput:
    """CLIPVisionEncode: the encoder placed for the call, outputs float32 on the CPU."""
    with manager.use(clip_vision.handle) as tower:
        return tower.vision.encode_image(images, crop=crop)


@node(category="loaders", display_name="Load CLIP Vision", outputs=[Out("CLIP_VISION")])
class CLIPVisionLoader(Node):
    """Load a CLIP image encoder from models/clip_vision (OpenCLIP `visual.*` or transformers layout)."""

    clip_name: Annotated[str, model_files("clip_vision", "A file in models/clip_vision.")]

    def run(self, ctx):
        return (clip_vision_model(model_manager(ctx), folders_of(ctx).find("clip_vision", self.clip_name)),)

    @classmethod
    def is_changed(cls, clip_name: str) -> str:
        return file_version("clip_vision", clip_name)


@node(category="conditioning", display_name="CLIP Vision Encode", outputs=[Out("CLIP_VISION_OUTPUT")])
class CLIPVisionEncode(Node):
    """Encode an image with a CLIP image encoder: centre-cropped to a square, or resized whole."""

    clip_vision: Annotated[object, Socket("CLIP_VISION")]
    image: Annotated[object, Socket("IMAGE")]
    crop: Literal["center", "none"]

    def run(self, ctx):
        return (encode_images(model_manager(ctx), self.clip_vision, self.image, crop=self.crop == "center"),)
