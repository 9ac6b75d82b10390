"""GLIGEN nodes: load a GLIGEN model and ground a phrase in a box (ComfyUI's GLIGENLoader /
GLIGENTextBoxApply). The box travels in the conditioning as ComfyUI's ("position", GLIGEN, boxes) entry;
the sampler turns it into the fusers' middle patch (engine.sampling.gligen_conds)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.values.gligen import GligenModel, gligen_model
from engine.values.text_encoder import placed_clip
from nodes.model_files import file_version, folders_of, model_files, model_manager

MAX_RESOLUTION = 16384


@node(category="loaders", outputs=[Out("GLIGEN")])
class GLIGENLoader(Node):
    """Load a GLIGEN model (position net + gated self-attention fusers) from models/gligen; its weights
    are read when a sampler first uses it."""

    gligen_name: Annotated[str, model_files("gligen", "A file in models/gligen.")]

    def run(self, ctx):
        path = folders_of(ctx).find("gligen", self.gligen_name)
        return (gligen_model(model_manager(ctx), path, f"GLIGENLoader: gligen_name {self.gligen_name!r}"),)

    @classmethod
    def is_changed(cls, gligen_name: str) -> str:
        return file_version("gligen", gligen_name)


@node(category="conditioning/gligen", outputs=[Out("CONDITIONING")])
class GLIGENTextBoxApply(Node):
    """Ask for `text` inside the box (width x height at x, y, in image pixels) on every prompt entry;
    boxes from earlier GLIGENTextBoxApply nodes are kept."""

    conditioning_to: Annotated[object, Socket("CONDITIONING")]
    clip: Annotated[object, Socket("CLIP")]
    gligen_textbox_model: Annotated[object, Socket("GLIGEN")]
    text: Annotated[str, Widget(multiline=True, dynamicPrompts=True)]
    width: Annotated[int, Widget(step=8)] = Field(64, ge=8, le=MAX_RESOLUTION)
    height: Annotated[int, Widget(step=8)] = Field(64, ge=8, le=MAX_RESOLUTION)
    x: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_RESOLUTION)
    y: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_RESOLUTION)

    def run(self, ctx):
        if not isinstance(self.gligen_textbox_model, GligenModel):
            raise TypeError("GLIGENTextBoxApply: gligen_textbox_model must come from GLIGENLoader, got "
                            f"{type(self.gligen_textbox_model).__name__}")
        with placed_clip(model_manager(ctx), self.clip) as encoder:
            _, pooled = encoder.encode(encoder.tokenize(self.text))
        box = (pooled.float().cpu(), self.height // 8, self.width // 8, self.y // 8, self.x // 8)
        out = []
        for cond, options in self.conditioning_to:
            earlier = options["gligen"][2] if "gligen" in options else []
            out.append([cond, {**options, "gligen": ("position", self.gligen_textbox_model, [*earlier, box])}])
        return (out,)
