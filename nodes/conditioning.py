"""Conditioning nodes that reshape what the sampler is steered by: combine, zero out, restrict to an area.

CONDITIONING is a list of [embedding tensor, options dict] pairs; nodes return new lists, never mutate.
"""

import logging
from typing import Annotated, Literal

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.latents import LATENT_SCALE, MAX_SIZE

log = logging.getLogger(__name__)


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


def _first_entry(node_name: str, conditioning: list) -> tuple[torch.Tensor, dict]:
    """The first entry of `conditioning_from` (the only one these nodes use, as in ComfyUI)."""
    if not conditioning:
        raise ValueError(f"{node_name}: conditioning_from is empty; expected at least one conditioning entry")
    if len(conditioning) > 1:
        log.warning("%s: conditioning_from holds %d entries; only the first is used", node_name, len(conditioning))
    return conditioning[0][0], conditioning[0][1]


def _fit_tokens(embedding: torch.Tensor, tokens: int) -> torch.Tensor:
    """`embedding` cut or zero-padded to `tokens` positions (dim 1)."""
    cut = embedding[:, :tokens]
    if cut.shape[1] < tokens:
        pad = torch.zeros((1, tokens - cut.shape[1], cut.shape[2]), dtype=cut.dtype, device=cut.device)
        cut = torch.cat([cut, pad], dim=1)
    return cut


@node(category="conditioning", display_name="Conditioning (Average)", outputs=[Out("CONDITIONING")])
class ConditioningAverage(Node):
    """Blend each `conditioning_to` embedding (and pooled output) with the first `conditioning_from` one:
    to * strength + from * (1 - strength); `from` is cut or zero-padded to the token count of `to`."""

    conditioning_to: Annotated[object, Socket("CONDITIONING")]
    conditioning_from: Annotated[object, Socket("CONDITIONING")]
    conditioning_to_strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=1.0)

    def run(self, ctx):
        source, source_options = _first_entry("ConditioningAverage", self.conditioning_from)
        pooled_from = source_options.get("pooled_output")
        weight = self.conditioning_to_strength
        out = []
        for embedding, extra in self.conditioning_to:
            blended = embedding * weight + _fit_tokens(source, embedding.shape[1]) * (1.0 - weight)
            extra = dict(extra)
            pooled_to = extra.get("pooled_output", pooled_from)
            if pooled_from is not None:
                extra["pooled_output"] = (pooled_from if pooled_to is None
                                          else pooled_to * weight + pooled_from * (1.0 - weight))
            out.append([blended, extra])
        return (out,)


@node(category="conditioning", display_name="Conditioning (Concat)", outputs=[Out("CONDITIONING")])
class ConditioningConcat(Node):
    """Append the first `conditioning_from` embedding's tokens after each `conditioning_to` embedding."""

    conditioning_to: Annotated[object, Socket("CONDITIONING")]
    conditioning_from: Annotated[object, Socket("CONDITIONING")]

    def run(self, ctx):
        source, _ = _first_entry("ConditioningConcat", self.conditioning_from)
        return ([[torch.cat((embedding, source), 1), dict(extra)] for embedding, extra in self.conditioning_to],)


def _fraction() -> object:
    return Field(1.0, ge=0, le=1.0)


@node(category="conditioning", display_name="Conditioning (Set Area with Percentage)",
      outputs=[Out("CONDITIONING")])
class ConditioningSetAreaPercentage(Node):
    """Apply the conditioning only to a rectangle given as fractions of the image size, with a strength."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    width: Annotated[float, Widget(step=0.01)] = _fraction()
    height: Annotated[float, Widget(step=0.01)] = _fraction()
    x: Annotated[float, Widget(step=0.01)] = Field(0, ge=0, le=1.0)
    y: Annotated[float, Widget(step=0.01)] = Field(0, ge=0, le=1.0)
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=10.0)

    def run(self, ctx):
        area = ("percentage", self.height, self.width, self.y, self.x)
        return (_map_options(self.conditioning, area=area, strength=self.strength, set_area_to_bounds=False),)


@node(category="conditioning", display_name="ConditioningSetAreaPercentageVideo", outputs=[Out("CONDITIONING")])
class ConditioningSetAreaPercentageVideo(Node):
    """A box of a video given as fractions of frames, height and width (temporal/z are the frame axis)."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    width: Annotated[float, Widget(step=0.01)] = _fraction()
    height: Annotated[float, Widget(step=0.01)] = _fraction()
    temporal: Annotated[float, Widget(step=0.01)] = _fraction()
    x: Annotated[float, Widget(step=0.01)] = Field(0, ge=0, le=1.0)
    y: Annotated[float, Widget(step=0.01)] = Field(0, ge=0, le=1.0)
    z: Annotated[float, Widget(step=0.01)] = Field(0, ge=0, le=1.0)
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=10.0)

    def run(self, ctx):
        area = ("percentage", self.temporal, self.height, self.width, self.z, self.y, self.x)
        return (_map_options(self.conditioning, area=area, strength=self.strength, set_area_to_bounds=False),)


@node(category="conditioning", display_name="ConditioningSetAreaStrength", outputs=[Out("CONDITIONING")])
class ConditioningSetAreaStrength(Node):
    """Set how strongly the conditioning weighs where it applies (1 = as much as an unrestricted one)."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=10.0)

    def run(self, ctx):
        return (_map_options(self.conditioning, strength=self.strength),)


@node(category="advanced/conditioning", display_name="ConditioningSetTimestepRange", outputs=[Out("CONDITIONING")])
class ConditioningSetTimestepRange(Node):
    """Use the conditioning only between `start` and `end` (fractions of the sampling schedule)."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    start: Annotated[float, Widget(step=0.001)] = Field(0.0, ge=0.0, le=1.0)
    end: Annotated[float, Widget(step=0.001)] = Field(1.0, ge=0.0, le=1.0)

    def run(self, ctx):
        return (_map_options(self.conditioning, start_percent=self.start, end_percent=self.end),)


@node(category="conditioning", display_name="Conditioning (Set Mask)", outputs=[Out("CONDITIONING")])
class ConditioningSetMask(Node):
    """Apply the conditioning only where the mask is (weighted by it); "mask bounds" also evaluates it on
    the mask's bounding box alone, for more detail in small regions."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    mask: Annotated[object, Socket("MASK")]
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=10.0)
    set_cond_area: Literal["default", "mask bounds"]

    def run(self, ctx):
        mask = self.mask if self.mask.ndim >= 3 else self.mask[None]
        return (_map_options(self.conditioning, mask=mask, set_area_to_bounds=self.set_cond_area != "default",
                             mask_strength=self.strength),)
