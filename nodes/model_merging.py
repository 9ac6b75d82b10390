"""Model and CLIP merging nodes (ComfyUI's nodes_model_merging): a merged model is model 1's handle with
one patch per weight (see nodes/merge_weights.py); nothing is computed until it is used or saved."""

from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.merge_weights import longest_prefix_ratio, merge_patches

MERGING = "advanced/model_merging"
RATIO = Field(1.0, ge=0.0, le=1.0)
MULTIPLIER = Field(1.0, ge=-10.0, le=10.0)


def merged(value1, value2, ratios):
    """value1 (a MODEL or CLIP) with value2 merged in by `ratios(key) -> (take, keep)`."""
    return value1.with_patches(merge_patches(value1.handle, value2.handle, ratios))


def _simple(ratio: float):
    return lambda key: (1.0 - ratio, ratio)


def _difference(multiplier: float):
    return lambda key: (-multiplier, multiplier)


def _sum(key: str) -> tuple[float, float]:
    return 1.0, 1.0


@node(category=MERGING, display_name="ModelMergeSimple", outputs=[Out("MODEL")])
class ModelMergeSimple(Node):
    """ratio * model1 + (1 - ratio) * model2, weight by weight (UNet only)."""

    model1: Annotated[object, Socket("MODEL")]
    model2: Annotated[object, Socket("MODEL")]
    ratio: Annotated[float, Widget(step=0.01)] = RATIO

    def run(self, ctx):
        return (merged(self.model1, self.model2, _simple(self.ratio)),)


@node(category=MERGING, display_name="ModelMergeBlocks", outputs=[Out("MODEL")])
class ModelMergeBlocks(Node):
    """Like ModelMergeSimple with one ratio for the input blocks, one for the middle and one for the rest."""

    model1: Annotated[object, Socket("MODEL")]
    model2: Annotated[object, Socket("MODEL")]
    input: Annotated[float, Widget(step=0.01)] = RATIO
    middle: Annotated[float, Widget(step=0.01)] = RATIO
    out: Annotated[float, Widget(step=0.01)] = RATIO

    def run(self, ctx):
        ratios = {"input": self.input, "middle": self.middle, "out": self.out}
        return (merged(self.model1, self.model2, longest_prefix_ratio(ratios)),)


@node(category=MERGING, display_name="ModelMergeSubtract", outputs=[Out("MODEL")])
class ModelMergeSubtract(Node):
    """multiplier * (model1 - model2): e.g. a fine-tune's difference from its base (ComfyUI scales both)."""

    model1: Annotated[object, Socket("MODEL")]
    model2: Annotated[object, Socket("MODEL")]
    multiplier: Annotated[float, Widget(step=0.01)] = MULTIPLIER

    def run(self, ctx):
        return (merged(self.model1, self.model2, _difference(self.multiplier)),)


@node(category=MERGING, display_name="ModelMergeAdd", outputs=[Out("MODEL")])
class ModelMergeAdd(Node):
    """model1 + model2 (e.g. to add a difference made by ModelMergeSubtract)."""

    model1: Annotated[object, Socket("MODEL")]
    model2: Annotated[object, Socket("MODEL")]

    def run(self, ctx):
        return (merged(self.model1, self.model2, _sum),)


@node(category=MERGING, display_name="CLIPMergeSimple", outputs=[Out("CLIP")])
class CLIPMergeSimple(Node):
    """ratio * clip1 + (1 - ratio) * clip2 over the text encoders' weights."""

    clip1: Annotated[object, Socket("CLIP")]
    clip2: Annotated[object, Socket("CLIP")]
    ratio: Annotated[float, Widget(step=0.01)] = RATIO

    def run(self, ctx):
        return (merged(self.clip1, self.clip2, _simple(self.ratio)),)


@node(category=MERGING, display_name="CLIPMergeSubtract", outputs=[Out("CLIP")])
class CLIPMergeSubtract(Node):
    """multiplier * (clip1 - clip2)."""

    clip1: Annotated[object, Socket("CLIP")]
    clip2: Annotated[object, Socket("CLIP")]
    multiplier: Annotated[float, Widget(step=0.01)] = MULTIPLIER

    def run(self, ctx):
        return (merged(self.clip1, self.clip2, _difference(self.multiplier)),)


@node(category=MERGING, display_name="CLIPMergeAdd", outputs=[Out("CLIP")])
class CLIPMergeAdd(Node):
    """clip1 + clip2."""

    clip1: Annotated[object, Socket("CLIP")]
    clip2: Annotated[object, Socket("CLIP")]

    def run(self, ctx):
        return (merged(self.clip1, self.clip2, _sum),)
