"""LoRA loader nodes: a LoRA / LyCORIS file becomes patches on the MODEL and CLIP handles (no copies)."""

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.models.lora.apply import LoRAFile, lora_patches, read_lora, warn_partial
from engine.models.lora.formats import build_adapters
from engine.models.lora.keys import clip_names, unet_names
from nodes.model_files import file_version, folders_of, model_files

STRENGTH = Field(1.0, ge=-100.0, le=100.0)


def apply_lora(ctx, node_name: str, lora_name: str, model, clip, strength_model: float, strength_clip: float):
    """(model, clip) with the LoRA's patches; an error naming the node when nothing in the file matched."""
    lora = read_lora(folders_of(ctx).find("loras", lora_name))
    return apply_lora_file(node_name, lora, model, clip, strength_model, strength_clip)


def apply_lora_file(node_name: str, lora: LoRAFile, model, clip, strength_model: float, strength_clip: float):
    """(model, clip) with the patches of a LoRA already read (e.g. a state dict a node pack holds)."""
    lora_name = lora.name
    if not lora.adapters:
        raise ValueError(f"{node_name}: lora_name {lora_name!r} holds no LoRA/LoCon/LoHa/LoKr tensors "
                         f"(keys like {', '.join(lora.unknown_keys[:5]) or 'none'})")
    reports = []
    if model is not None:
        shapes = model.handle.module_shapes()
        patches, report = lora_patches(lora, unet_names(model.config.unet, shapes), shapes, strength_model, False)
        reports.append(report)
        if strength_model:
            model = model.with_patches(patches)
    if clip is not None:
        shapes = clip.handle.module_shapes()
        patches, report = lora_patches(lora, clip_names(shapes), shapes, strength_clip, True)
        reports.append(report)
        if strength_clip:
            clip = clip.with_patches(patches)
    if not any(r.matched for r in reports):
        details = "; ".join(r.summary() for r in reports if r.total) or "it holds text-encoder modules only"
        raise ValueError(f"{node_name}: lora_name {lora_name!r} matches nothing in the given model"
                         f"{' and CLIP' if clip is not None else ''}: {details}")
    warn_partial(lora, reports)
    return model, clip


@node(category="loaders", display_name="Load LoRA", aliases=["LoRALoader"],
      outputs=[Out("MODEL", tooltip="The model with the LoRA applied."),
               Out("CLIP", tooltip="The text encoder with the LoRA applied.")])
class LoraLoader(Node):
    """Apply a LoRA (kohya, LoCon, LoHa, LoKr, diffusers/PEFT, DoRA) to the UNet and the text encoders.

    Strengths may be negative; several LoRA nodes stack. Weights are patched when the model is used.
    """

    model: Annotated[object, Socket("MODEL")]
    clip: Annotated[object, Socket("CLIP")]
    lora_name: Annotated[str, model_files("loras", "A file in models/loras.")]
    strength_model: Annotated[float, Widget(step=0.01)] = STRENGTH
    strength_clip: Annotated[float, Widget(step=0.01)] = STRENGTH

    def run(self, ctx):
        if self.strength_model == 0 and self.strength_clip == 0:
            return (self.model, self.clip)
        return apply_lora(ctx, "LoraLoader", self.lora_name, self.model, self.clip, self.strength_model,
                          self.strength_clip)

    @classmethod
    def is_changed(cls, lora_name: str) -> str:
        return file_version("loras", lora_name)


@node(category="loaders", display_name="LoraLoaderModelOnly", outputs=[Out("MODEL")])
class LoraLoaderModelOnly(Node):
    """Apply a LoRA to the UNet only (its text-encoder parts are left out)."""

    model: Annotated[object, Socket("MODEL")]
    lora_name: Annotated[str, model_files("loras", "A file in models/loras.")]
    strength_model: Annotated[float, Widget(step=0.01)] = STRENGTH

    def run(self, ctx):
        if self.strength_model == 0:
            return (self.model,)
        model, _ = apply_lora(ctx, "LoraLoaderModelOnly", self.lora_name, self.model, None,
                              self.strength_model, 0.0)
        return (model,)

    @classmethod
    def is_changed(cls, lora_name: str) -> str:
        return file_version("loras", lora_name)


@node(category="loaders", display_name="Load LoRA Model", outputs=[Out("MODEL")])
class LoraModelLoader(Node):
    """Apply a LoRA held in memory (LORA_MODEL: a dict of LoRA tensors, e.g. from training) to the UNet."""

    model: Annotated[object, Socket("MODEL")]
    lora: Annotated[object, Socket("LORA_MODEL")]
    strength_model: Annotated[float, Widget(step=0.01)] = STRENGTH

    def run(self, ctx):
        if self.strength_model == 0:
            return (self.model,)
        if not isinstance(self.lora, Mapping):
            raise TypeError(f"LoraModelLoader: lora must be a LORA_MODEL (a dict of LoRA tensors), got "
                             f"{type(self.lora).__name__}")
        lora = LoRAFile("LORA_MODEL", *build_adapters(dict(self.lora)))
        model, _ = apply_lora_file("LoraModelLoader", lora, self.model, None, self.strength_model, 0.0)
        return (model,)
