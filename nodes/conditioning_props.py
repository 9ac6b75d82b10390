"""The conditioning-property nodes of ComfyUI's hooks group (nodes_hooks): strength, mask area and timestep
range set on new conditioning, optionally combined with existing conditioning, single or as a pair, and the
TIMESTEPS_RANGE maker.

Their `hooks` input takes a HOOKS value (scheduled LoRA / model-as-LoRA weights, nodes/hooks.py): the new
conditioning carries them (added to any it carries already) and the sampler applies them to it alone.
The default-combine nodes add conditioning that fills whatever area the other entries leave uncovered.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field, create_model

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.sampling.hooks import combine_hooks

COND_SINGLE, COND_PAIR = "advanced/hooks/cond single", "advanced/hooks/cond pair"
Strength = Annotated[float, Widget(step=0.01)]
Percent = Annotated[float, Widget(step=0.001)]


def with_properties(node_name: str, conditioning: list, strength: float, set_cond_area: str,
                    mask: torch.Tensor | None, hooks, timesteps: tuple[float, float] | None) -> list:
    """A copy of `conditioning` with ComfyUI's set_conds_props applied: the hooks, the mask (with strength
    and area mode) when given, the timestep range when given."""
    options: dict = {}
    if mask is not None:
        options |= {"mask": mask if mask.ndim >= 3 else mask[None],
                    "set_area_to_bounds": set_cond_area != "default", "mask_strength": strength}
    if timesteps is not None:
        options |= {"start_percent": timesteps[0], "end_percent": timesteps[1]}
    return [[embedding, {**extra, **options, **_hooked(node_name, extra, hooks)}]
            for embedding, extra in conditioning]


def _hooked(node_name: str, options: dict, hooks) -> dict:
    """{"hooks": the entry's hooks and `hooks`} when `hooks` is given."""
    if hooks is None:
        return {}
    if not isinstance(hooks, tuple):
        raise TypeError(f"{node_name}: input 'hooks' must be HOOKS (from a Create Hook node), got "
                        f"{type(hooks).__name__}")
    return {"hooks": combine_hooks([options.get("hooks"), hooks])}


def as_default(node_name: str, conditioning: list, hooks) -> list:
    """Entries marked "default" (they fill the area the other entries of their side leave), with hooks."""
    return [[embedding, {**extra, **_hooked(node_name, extra, hooks), "default": True}]
            for embedding, extra in conditioning]


CONDITIONING = (Annotated[object, Socket("CONDITIONING")], ...)
# the inputs every property node takes after its conditioning inputs, in ComfyUI's order
PROPERTY_INPUTS = {
    "strength": (Strength, Field(1.0, ge=0.0, le=10.0)),
    "set_cond_area": (Literal["default", "mask bounds"], ...),
    "mask": (Annotated[object, Socket("MASK")], None),
    "hooks": (Annotated[object, Socket("HOOKS")], None),
    "timesteps": (Annotated[object, Socket("TIMESTEPS_RANGE")], None),
}


class _Properties(Node):
    def props(self, conditioning: list) -> list:
        return with_properties(type(self).__name__, conditioning, self.strength, self.set_cond_area, self.mask,
                               self.hooks, self.timesteps)


def _property_node(base: type[_Properties], conditioning: tuple[str, ...], category: str, display_name: str,
                   outputs: list[Out]) -> type[Node]:
    """The node class: `base`'s run, the conditioning inputs named, then PROPERTY_INPUTS."""
    cls = create_model(base.__name__.lstrip("_"), __base__=base, __module__=__name__, __doc__=base.__doc__,
                       **dict.fromkeys(conditioning, CONDITIONING), **PROPERTY_INPUTS)
    return node(cls, category=category, display_name=display_name, experimental=True, outputs=outputs)


PAIR = [Out("CONDITIONING", "positive"), Out("CONDITIONING", "negative")]


class _ConditioningSetProperties(_Properties):
    """Set strength, a mask (its area mode) and a timestep range on new conditioning."""

    def run(self, ctx):
        return (self.props(self.cond_NEW),)


class _ConditioningSetPropertiesAndCombine(_Properties):
    """Like Cond Set Props on `cond_NEW`, then combined with `cond`."""

    def run(self, ctx):
        return (list(self.cond) + self.props(self.cond_NEW),)


class _PairConditioningSetProperties(_Properties):
    """Cond Set Props on a positive / negative pair."""

    def run(self, ctx):
        return (self.props(self.positive_NEW), self.props(self.negative_NEW))


class _PairConditioningSetPropertiesAndCombine(_Properties):
    """Cond Set Props Combine on a positive / negative pair."""

    def run(self, ctx):
        return (list(self.positive) + self.props(self.positive_NEW),
                list(self.negative) + self.props(self.negative_NEW))


ConditioningSetProperties = _property_node(_ConditioningSetProperties, ("cond_NEW",), COND_SINGLE,
                                           "Cond Set Props", [Out("CONDITIONING")])
ConditioningSetPropertiesAndCombine = _property_node(_ConditioningSetPropertiesAndCombine, ("cond", "cond_NEW"),
                                                     COND_SINGLE, "Cond Set Props Combine", [Out("CONDITIONING")])
PairConditioningSetProperties = _property_node(_PairConditioningSetProperties, ("positive_NEW", "negative_NEW"),
                                               COND_PAIR, "Cond Pair Set Props", PAIR)
PairConditioningSetPropertiesAndCombine = _property_node(
    _PairConditioningSetPropertiesAndCombine, ("positive", "negative", "positive_NEW", "negative_NEW"), COND_PAIR,
    "Cond Pair Set Props Combine", PAIR)


@node(category=COND_SINGLE, display_name="Cond Set Default Combine", experimental=True, outputs=[Out("CONDITIONING")])
class ConditioningSetDefaultCombine(Node):
    """`cond` plus `cond_DEFAULT` as default conditioning (used where `cond` leaves area uncovered)."""

    cond: Annotated[object, Socket("CONDITIONING")]
    cond_DEFAULT: Annotated[object, Socket("CONDITIONING")]
    hooks: Annotated[object, Socket("HOOKS")] = None

    def run(self, ctx):
        return (list(self.cond) + as_default("ConditioningSetDefaultCombine", self.cond_DEFAULT, self.hooks),)


@node(category=COND_PAIR, display_name="Cond Pair Set Default Combine", experimental=True, outputs=PAIR)
class PairConditioningSetDefaultCombine(Node):
    """Cond Set Default Combine on a positive / negative pair."""

    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    positive_DEFAULT: Annotated[object, Socket("CONDITIONING")]
    negative_DEFAULT: Annotated[object, Socket("CONDITIONING")]
    hooks: Annotated[object, Socket("HOOKS")] = None

    def run(self, ctx):
        name = "PairConditioningSetDefaultCombine"
        return (list(self.positive) + as_default(name, self.positive_DEFAULT, self.hooks),
                list(self.negative) + as_default(name, self.negative_DEFAULT, self.hooks))


@node(category=COND_PAIR, display_name="Cond Pair Combine", experimental=True,
      outputs=[Out("CONDITIONING", "positive"), Out("CONDITIONING", "negative")])
class PairConditioningCombine(Node):
    """Both pairs at once: positives together, negatives together."""

    positive_A: Annotated[object, Socket("CONDITIONING")]
    negative_A: Annotated[object, Socket("CONDITIONING")]
    positive_B: Annotated[object, Socket("CONDITIONING")]
    negative_B: Annotated[object, Socket("CONDITIONING")]

    def run(self, ctx):
        return (list(self.positive_A) + list(self.positive_B), list(self.negative_A) + list(self.negative_B))


@node(category="advanced/hooks", display_name="Timesteps Range", experimental=True,
      outputs=[Out("TIMESTEPS_RANGE"), Out("TIMESTEPS_RANGE", "BEFORE_RANGE"), Out("TIMESTEPS_RANGE", "AFTER_RANGE")])
class ConditioningTimestepsRange(Node):
    """A part of the schedule (start..end) and the parts before and after it."""

    start_percent: Percent = Field(0.0, ge=0.0, le=1.0)
    end_percent: Percent = Field(1.0, ge=0.0, le=1.0)

    def run(self, ctx):
        return ((self.start_percent, self.end_percent), (0.0, self.start_percent), (self.end_percent, 1.0))
