"""EasyCache and LazyCache: MODEL patches that skip network evaluations whose output is predictable
(ComfyUI's interfaces; the caches are engine.sampling.step_cache)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.sampling import step_cache

Percent = Annotated[float, Widget(step=0.01), Field(ge=0.0, le=1.0)]


class _StepCacheNode(Node):
    """The settings both caches take; `cache` is the engine.sampling.step_cache class to attach."""

    cache: ClassVar[type[step_cache.StepCache]]

    model: Annotated[object, Socket("MODEL", tooltip="Model whose evaluations may be skipped.")]
    reuse_threshold: Annotated[float, Widget(step=0.01, tooltip="Accumulated relative change allowed before the network is evaluated again."),
                               Field(ge=0.0, le=3.0)] = 0.2
    start_percent: Percent = 0.15
    end_percent: Percent = 0.95
    verbose: Annotated[bool, Widget(tooltip="Log each skip decision and a summary.")] = False

    def run(self, ctx):
        state = self.cache(self.reuse_threshold, self.start_percent, self.end_percent, self.verbose)
        return (step_cache.add_step_cache(self.model, state),)


@node(category="advanced/debug/model", outputs=[Out("MODEL", tooltip="A copy of the input model with per-condition output reuse.")])
class EasyCache(_StepCacheNode):
    """Skip diffusion model calls while the estimated change of each conditioning's output stays small."""

    cache = step_cache.EasyCache


@node(category="advanced/debug/model", outputs=[Out("MODEL", tooltip="A copy of the input model with whole-step output reuse.")])
class LazyCache(_StepCacheNode):
    """EasyCache's idea applied to the guider's whole prediction: works with any model, skips whole steps."""

    cache = step_cache.LazyCache
