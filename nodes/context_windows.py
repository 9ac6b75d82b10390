"""Context windows: MODEL patches that make each sampling step evaluate a long latent in overlapping
windows (ComfyUI's interfaces; the windows and blending are engine.sampling.context_windows)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.sampling.context_windows import FUSE_METHODS, SCHEDULES, ContextHandler

MAX_RESOLUTION = 16384
Schedule = Annotated[str, Combo(SCHEDULES, tooltip="How windows are laid out over the sequence.")]
FuseMethod = Annotated[str, Combo(FUSE_METHODS, tooltip="How overlapping windows' predictions are weighted when merged.")]
Stride = Annotated[int, Widget(tooltip="Spacing step between window starts (uniform layouts only)."),
                   Field(ge=1)]
ClosedLoop = Annotated[bool, Widget(tooltip="Let the last window wrap around to the start (looped layouts only).")]
WITH_WINDOWS = [Out("MODEL", tooltip="A copy of the input model that samples window by window.")]


def with_context_windows(model, **settings):
    """A clone of the MODEL whose sampling steps run in context windows."""
    patched = model.clone()
    patched.model_options["context_handler"] = ContextHandler(**settings)
    return (patched,)


@node(category="context", display_name="Context Windows (Manual)", outputs=WITH_WINDOWS)
class ContextWindowsManual(Node):
    """Sample a long latent in overlapping windows along a chosen axis, with explicit window settings."""

    model: Annotated[object, Socket("MODEL", tooltip="Model whose steps should run window by window.")]
    context_length: Annotated[int, Widget(tooltip="Elements per window."), Field(ge=1)] = 16
    context_overlap: Annotated[int, Widget(tooltip="Elements shared by neighbouring windows."), Field(ge=0)] = 4
    context_schedule: Schedule
    context_stride: Stride = 1
    closed_loop: ClosedLoop = False
    fuse_method: FuseMethod = "pyramid"
    dim: Annotated[int, Widget(tooltip="Latent axis the windows slide along."), Field(ge=0, le=5)] = 0

    def run(self, ctx):
        return with_context_windows(
            self.model, context_schedule=self.context_schedule, fuse_method=self.fuse_method,
            context_length=self.context_length, context_overlap=self.context_overlap,
            context_stride=self.context_stride, closed_loop=self.closed_loop, dim=self.dim)


@node(category="context", display_name="WAN Context Windows (Manual)", outputs=WITH_WINDOWS)
class WanContextWindowsManual(Node):
    """Windowed sampling for Wan-style video latents (time on axis 2): sizes are given in video frames and
    converted to latent frames (4 frames each, the first alone)."""

    model: Annotated[object, Socket("MODEL", tooltip="Model whose steps should run window by window.")]
    context_length: Annotated[int, Widget(step=4, tooltip="Video frames per window."),
                              Field(ge=1, le=MAX_RESOLUTION)] = 81
    context_overlap: Annotated[int, Widget(tooltip="Video frames shared by neighbouring windows."), Field(ge=0)] = 30
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
