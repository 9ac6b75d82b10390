"""Context windows: MODEL patches that make each sampling step evaluate a long latent in overlapping
windows (ComfyUI's interfaces; the windows and blending are engine.sampling.context_windows)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.sampling.context_windows import FUSE_METHODS, SCHEDULES, ContextHandler

MAX_RESOLUTION = 16384
Schedule = Annotated[str, Combo(SCHEDULES, tooltip="The stride of the context window.")]
FuseMethod = Annotated[str, Combo(FUSE_METHODS, tooltip="The method to use to fuse the context windows.")]
Stride = Annotated[int, Widget(tooltip="The stride of the context window; only applicable to uniform schedules."),
                   Field(ge=1)]
ClosedLoop = Annotated[bool, Widget(tooltip="Whether to close the context window loop; only applicable to looped "
                                            "schedules.")]
WITH_WINDOWS = [Out("MODEL", tooltip="The model with context windows applied during sampling.")]


def with_context_windows(model, **settings):
    """A clone of the MODEL whose sampling steps run in context windows."""
    patched = model.clone()
    patched.model_options["context_handler"] = ContextHandler(**settings)
    return (patched,)


@node(category="context", display_name="Context Windows (Manual)", outputs=WITH_WINDOWS)
class ContextWindowsManual(Node):
    """Manually set context windows."""

    model: Annotated[object, Socket("MODEL", tooltip="The model to apply context windows to during sampling.")]
    context_length: Annotated[int, Widget(tooltip="The length of the context window."), Field(ge=1)] = 16
    context_overlap: Annotated[int, Widget(tooltip="The overlap of the context window."), Field(ge=0)] = 4
    context_schedule: Schedule
    context_stride: Stride = 1
    closed_loop: ClosedLoop = False
    fuse_method: FuseMethod = "pyramid"
    dim: Annotated[int, Widget(tooltip="The dimension to apply the context windows to."), Field(ge=0, le=5)] = 0

    def run(self, ctx):
        return with_context_windows(
            self.model, context_schedule=self.context_schedule, fuse_method=self.fuse_method,
            context_length=self.context_length, context_overlap=self.context_overlap,
            context_stride=self.context_stride, closed_loop=self.closed_loop, dim=self.dim)


@node(category="context", display_name="WAN Context Windows (Manual)", outputs=WITH_WINDOWS)
class WanContextWindowsManual(Node):
    """Manually set context windows for WAN-like models (dim=2): lengths in frames, windows in latent frames
    (4 frames each, the first alone)."""

    model: Annotated[object, Socket("MODEL", tooltip="The model to apply context windows to during sampling.")]
    context_length: Annotated[int, Widget(step=4, tooltip="The length of the context window."),
                              Field(ge=1, le=MAX_RESOLUTION)] = 81
    context_overlap: Annotated[int, Widget(tooltip="The overlap of the context window."), Field(ge=0)] = 30
    context_schedule: Schedule
    context_stride: Stride = 1
    closed_loop: ClosedLoop = False
    fuse_method: FuseMethod = "pyramid"

    def run(self, ctx):
        return with_context_windows(
            self.model, context_schedule=self.context_schedule, fuse_method=self.fuse_method,
            context_length=max((self.context_length - 1) // 4 + 1, 1),
            context_overlap=max((self.context_overlap - 1) // 4 + 1, 0),
            context_stride=self.context_stride, closed_loop=self.closed_loop, dim=2)
