"""PhotoMaker nodes (ComfyUI's PhotoMakerLoader / PhotoMakerEncode): load the ID encoder and fuse the
identity of the person in a picture into the prompt word before "photomaker" ("a man photomaker")."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import torch

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.models.checkpoint import open_checkpoint
from engine.models.photomaker import PhotoMakerIDEncoder, load_photomaker
from engine.values.text_encoder import placed_clip
from nodes.model_files import file_version, folders_of, model_files, model_manager

TRIGGER = "photomaker"


def _weights(path: Path) -> Mapping[str, torch.Tensor]:
    """The file's tensors; the released .bin nests them as {"id_encoder": {...}, "lora_weights": {...}}."""
    weights = open_checkpoint(path)
    if len(weights) or path.suffix == ".safetensors":
        return weights
    nested = torch.load(path, map_location="cpu", weights_only=True)
    return nested.get("id_encoder", {}) if isinstance(nested, dict) else {}


@node(category="_for_testing/photomaker", outputs=[Out("PHOTOMAKER")])
class PhotoMakerLoader(Node):
    """Load a PhotoMaker ID encoder (photomaker-v1.bin) from models/photomaker."""

    photomaker_model_name: Annotated[str, model_files("photomaker", "A file in models/photomaker.")]

    def run(self, ctx):
        path = folders_of(ctx).find("photomaker", self.photomaker_model_name)
        what = f"PhotoMakerLoader: photomaker_model_name {self.photomaker_model_name!r}"
        try:
            return (load_photomaker(_weights(path), what),)
        except (KeyError, RuntimeError) as error:
            raise ValueError(f"{what} does not have the PhotoMaker layout: {error}") from error

    @classmethod
    def is_changed(cls, photomaker_model_name: str) -> str:
        return file_version("photomaker", photomaker_model_name)


def split_trigger(text: str) -> tuple[str, int | None]:
    """The prompt without its first "photomaker" word, and the token position of the word before it
    (start token at 0, one token per word, as ComfyUI counts); None without the trigger word."""
    words = text.split(" ")
    if TRIGGER not in words:
        return text, None
    index = words.index(TRIGGER)
    return " ".join(words[:index] + words[index + 1:]), index


@node(category="_for_testing/photomaker", outputs=[Out("CONDITIONING")])
class PhotoMakerEncode(Node):
    """Encode `text` without the word "photomaker", then fuse the picture's identity into the word
    before it; without the trigger word this is a plain text encode."""

    photomaker: Annotated[object, Socket("PHOTOMAKER")]
    image: Annotated[object, Socket("IMAGE")]
    clip: Annotated[object, Socket("CLIP")]
    text: Annotated[str, Widget(multiline=True, dynamicPrompts=True)] = "photograph of photomaker"

    def run(self, ctx):
        if not isinstance(self.photomaker, PhotoMakerIDEncoder):
            raise TypeError("PhotoMakerEncode: photomaker must come from PhotoMakerLoader, got "
                            f"{type(self.photomaker).__name__}")
        text, token = split_trigger(self.text)
        with placed_clip(model_manager(ctx), self.clip) as encoder:
            cond, pooled = encoder.encode(encoder.tokenize(text))
        if token is not None:
            width = self.photomaker.fuse_module.layer_norm.normalized_shape[0]
            if cond.shape[-1] != width:
                raise ValueError(f"PhotoMakerEncode: clip gives {cond.shape[-1]}-wide prompt embeddings, the "
                                 f"PhotoMaker model fuses {width}-wide ones (PhotoMaker is for SDXL)")
            cond = self.photomaker.fuse(cond, self.photomaker.identity(self.image), token)
        return ([[cond, {"pooled_output": pooled}]],)
