"""Conditioning nodes that reshape what the sampler is steered by: combine, zero out, restrict to an area.

CONDITIONING is a list of [embedding tensor, options dict] pairs; nodes return new lists, never mutate.
"""

from typing import Annotated

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.latents import LATENT_SCALE, MAX_SIZE


def _map_options(conditioning: list, **options) -> list:
    """A copy of the conditioning with `options` set on every entry."""
    return [[embedding, {**extra, **options}] for embedding, extra in conditioning]


@node(category="conditioning", display_name="Conditioning (Combine)", outputs=[Out("CONDITIONING")])
class ConditioningCombine(Node):
    """Both conditionings at once: the sampler averages their predictions (weighted by area/strength)."""

    conditioning_1: Annotated[object, Socket("CONDITIONING")]
    conditioning_2: Annotated[object, Socket("CONDITIONING")]

    def run(self, ctx):
        return (list(self.conditioning_1) + list(self.conditioning_2),)


@node(category="advanced/conditioning", display_name="ConditioningZeroOut", outputs=[Out("CONDITIONING")])
class ConditioningZeroOut(Node):
    """Zero embeddings (and pooled output): the usual negative prompt for SDXL-Turbo style models."""

    conditioning: Annotated[object, Socket("CONDITIONING")]

    def run(self, ctx):
        zeroed = []
        for embedding, extra in self.conditioning:
            extra = dict(extra)
            if isinstance(extra.get("pooled_output"), torch.Tensor):
                extra["pooled_output"] = torch.zeros_like(extra["pooled_output"])
            zeroed.append([torch.zeros_like(embedding), extra])
        return (zeroed,)


@node(category="conditioning", display_name="Conditioning (Set Area)", outputs=[Out("CONDITIONING")])
class ConditioningSetArea(Node):
    """Apply the conditioning only to a rectangle of the image (in pixels), with a strength."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    width: Annotated[int, Widget(step=8)] = Field(64, ge=64, le=MAX_SIZE)
    height: Annotated[int, Widget(step=8)] = Field(64, ge=64, le=MAX_SIZE)
    x: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=10.0)

    def run(self, ctx):
        area = tuple(size // LATENT_SCALE for size in (self.height, self.width, self.y, self.x))
        return (_map_options(self.conditioning, area=area, strength=self.strength, set_area_to_bounds=False),)
