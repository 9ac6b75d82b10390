"""PhotoMaker nodes (ComfyUI's PhotoMakerLoader / PhotoMakerEncode): load the ID encoder and fuse the
identity of the person in a picture into the prompt word before "photomaker" ("a man photomaker")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import torch

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.memory import ModelHandle, file_key
from engine.models.checkpoint import open_checkpoint
from engine.models.photomaker import check_photomaker_keys, load_photomaker
from engine.values.text_encoder import placed_clip
from nodes.model_files import file_version, folders_of, model_files, model_manager

TRIGGER = "photomaker"


@dataclass(frozen=True)
class PhotoMakerModel:
    """PHOTOMAKER: the managed ID encoder and the width of the prompt embeddings it fuses."""

    handle: ModelHandle
    width: int


def _weights(path: Path) -> Mapping[str, torch.Tensor]:
    """The file's tensors, memory-mapped where the format allows; the released .bin nests them as
    {"id_encoder": {...}, "lora_weights": {...}}."""
    weights = open_checkpoint(path)
    if len(weights) or path.suffix == ".safetensors":
        return weights
    try:
        nested = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # the legacy (pre-zip) format cannot be mapped
        nested = torch.load(path, map_location="cpu", weights_only=True)
    return nested.get("id_encoder", {}) if isinstance(nested, dict) else {}


@node(category="_for_testing/photomaker", outputs=[Out("PHOTOMAKER")])
class PhotoMakerLoader(Node):
    """Load a PhotoMaker ID encoder (photomaker-v1.bin) from models/photomaker; its weights are read when
    PhotoMakerEncode first uses it."""

    photomaker_model_name: Annotated[str, model_files("photomaker", "A file in models/photomaker.")]

    def run(self, ctx):
        path = folders_of(ctx).find("photomaker", self.photomaker_model_name)
        what = f"PhotoMakerLoader: photomaker_model_name {self.photomaker_model_name!r}"
        weights = _weights(path)
        check_photomaker_keys(weights, what)
        norm = next(k for k in weights if k.removeprefix("id_encoder.") == "fuse_module.layer_norm.weight")

        def load(weights):
            try:
                return load_photomaker(weights, what)
            except (KeyError, RuntimeError) as error:
                raise ValueError(f"{what} does not have the PhotoMaker layout: {error}") from error

        handle = model_manager(ctx).handle(file_key(path, "photomaker"), name=f"{path.name} (photomaker)",
                                           kind="photomaker", load=load, state_dict=lambda: _weights(path))
        return (PhotoMakerModel(handle, weights[norm].shape[0]),)

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
        if not isinstance(self.photomaker, PhotoMakerModel):
            raise TypeError("PhotoMakerEncode: photomaker must come from PhotoMakerLoader, got "
                            f"{type(self.photomaker).__name__}")
        text, token = split_trigger(self.text)
        with placed_clip(model_manager(ctx), self.clip) as encoder:
            cond, pooled = encoder.encode(encoder.tokenize(text))
        if token is not None:
            if cond.shape[-1] != self.photomaker.width:
                raise ValueError(f"PhotoMakerEncode: clip gives {cond.shape[-1]}-wide prompt embeddings, the "
                                 f"PhotoMaker model fuses {self.photomaker.width}-wide ones (PhotoMaker is for SDXL)")
            with model_manager(ctx).use(self.photomaker.handle) as encoder:
                cond = encoder.fuse(cond, encoder.identity(self.image), token)
        return ([[cond, {"pooled_output": pooled}]],)
