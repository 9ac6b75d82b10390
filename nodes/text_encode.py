"""Prompt nodes: text -> CONDITIONING through a checkpoint's text encoders, clip skip, SDXL size hints."""

from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.values.text_encoder import placed_clip
from nodes.hooks import scheduled_clips
from nodes.latents import MAX_SIZE
from nodes.model_files import model_manager


def encode(ctx, clip, tokenize, **options) -> list:
    """CONDITIONING: the encoded tokens, pooled output, `options` and the CLIP's hooks; one entry, or one per
    part of the run for a CLIP whose hooks schedule its encoding (SetClipHooks)."""
    if clip is None:
        raise ValueError("clip input is None: this checkpoint has no text encoder (use a CLIP loader)")
    hooks = getattr(clip, "cond_hooks", None)
    out = []
    for part, timing in scheduled_clips(clip):
        with placed_clip(model_manager(ctx), part) as encoder:
            cond, pooled = encoder.encode(tokenize(encoder))
        out.append([cond, {"pooled_output": pooled, **options, **timing, **({"hooks": hooks} if hooks else {})}])
    return out


@node(category="conditioning", display_name="CLIP Text Encode (Prompt)", aliases=["CLIPEncode"],
      outputs=[Out("CONDITIONING", tooltip="The encoded prompt, to steer the sampler.")])
class CLIPTextEncode(Node):
    """Encode a prompt ((word:1.2) weights, embedding:name, any length) with the checkpoint's CLIP."""

    text: Annotated[str, Widget(multiline=True, dynamicPrompts=True)]
    clip: Annotated[object, Socket("CLIP")]

    def run(self, ctx):
        return (encode(ctx, self.clip, lambda encoder: encoder.tokenize(self.text)),)


@node(category="conditioning", display_name="CLIP Set Last Layer", outputs=[Out("CLIP")])
class CLIPSetLastLayer(Node):
    """Clip skip: take the text encoder's output from an earlier layer (-1 last, -2 penultimate, ...)."""

    clip: Annotated[object, Socket("CLIP")]
    stop_at_clip_layer: Annotated[int, Widget(step=1)] = Field(-1, ge=-24, le=-1)

    def run(self, ctx):
        return (self.clip.with_layer(self.stop_at_clip_layer),)


@node(category="advanced/conditioning", display_name="CLIPTextEncodeSDXL", outputs=[Out("CONDITIONING")])
class CLIPTextEncodeSDXL(Node):
    """SDXL prompt: separate texts for bigG (text_g) and CLIP-L (text_l) plus the size conditioning."""

    clip: Annotated[object, Socket("CLIP")]
    width: int = Field(1024, ge=0, le=MAX_SIZE)
    height: int = Field(1024, ge=0, le=MAX_SIZE)
    crop_w: int = Field(0, ge=0, le=MAX_SIZE)
    crop_h: int = Field(0, ge=0, le=MAX_SIZE)
    target_width: int = Field(1024, ge=0, le=MAX_SIZE)
    target_height: int = Field(1024, ge=0, le=MAX_SIZE)
    text_g: Annotated[str, Widget(multiline=True, dynamicPrompts=True)]
    text_l: Annotated[str, Widget(multiline=True, dynamicPrompts=True)]

    def run(self, ctx):
        sizes = {name: getattr(self, name)
                 for name in ("width", "height", "crop_w", "crop_h", "target_width", "target_height")}
        return (encode(ctx, self.clip, lambda encoder: encoder.tokenize_pair(self.text_g, self.text_l), **sizes),)


@node(category="advanced/conditioning", display_name="CLIPTextEncodeSDXLRefiner", outputs=[Out("CONDITIONING")])
class CLIPTextEncodeSDXLRefiner(Node):
    """SDXL refiner prompt with its aesthetic score (about 6 for positive, 2.5 for negative prompts)."""

    ascore: Annotated[float, Widget(step=0.01)] = Field(6.0, ge=0.0, le=1000.0)
    width: int = Field(1024, ge=0, le=MAX_SIZE)
    height: int = Field(1024, ge=0, le=MAX_SIZE)
    text: Annotated[str, Widget(multiline=True, dynamicPrompts=True)]
    clip: Annotated[object, Socket("CLIP")]

    def run(self, ctx):
        return (encode(ctx, self.clip, lambda encoder: encoder.tokenize(self.text),
                       aesthetic_score=self.ascore, width=self.width, height=self.height),)
