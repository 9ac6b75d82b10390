"""What a running node may reach: host services, progress reporting, interrupt, event emission.

State is passed explicitly: native nodes get the context as `run(self, ctx)`; V1 nodes, which take no
context argument, reach the same object through `current()` (a contextvar set around each call).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from engine.graph.events import PREVIEW, PROGRESS, Event, EventSink, null_sink


@dataclass
class Services:
    """Host-provided services: `folders` (engine.paths.Folders), `models` (the model manager), settings."""

    folders: Any = None
    models: Any = None
    settings: dict = field(default_factory=dict)


class ExecutionInterrupted(Exception):
    """Raised to stop the running prompt (user interrupt)."""


class Interrupt:
    """A thread-safe interrupt flag shared by the host (server/CLI) and the executor."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def is_set(self) -> bool:
        return self._event.is_set()


class ExecutionContext:
    """The running node's view of the execution: identity, hidden values, services and progress."""

    __slots__ = (
        "_builders",
        "_interrupt",
        "_sink",
        "call_index",
        "display_node_id",
        "dynprompt",
        "extra_data",
        "node_id",
        "prompt",
        "prompt_id",
        "services",
    )

    def __init__(
        self,
        node_id: str,
        prompt_id: str,
        prompt: dict,
        services: Services | None = None,
        sink: EventSink = null_sink,
        interrupt: Interrupt | None = None,
        extra_data: dict | None = None,
        display_node_id: str | None = None,
        dynprompt: Any = None,
        call_index: int = 0,
    ):
        self.node_id = node_id
        self.display_node_id = display_node_id or node_id
        self.prompt_id = prompt_id
        self.prompt = prompt
        self.extra_data = extra_data or {}
        self.services = services or Services()
        self.dynprompt = dynprompt
        self.call_index = call_index
        self._sink = sink
        self._interrupt = interrupt
        self._builders = 0

    @property
    def interrupt(self) -> Interrupt | None:
        """The host's interrupt flag for this prompt (None when nothing can interrupt it)."""
        return self._interrupt

    @property
    def extra_pnginfo(self) -> Any:
        """`extra_data["extra_pnginfo"]`, normally `{"workflow": <canvas graph>}`."""
        return self.extra_data.get("extra_pnginfo")

    def next_builder_index(self) -> int:
        """Numbers the GraphBuilders created during this call (their ids must be deterministic)."""
        self._builders += 1
        return self._builders - 1

    def check_interrupt(self) -> None:
        """Raise ExecutionInterrupted when the host asked to stop."""
        if self._interrupt is not None and self._interrupt.is_set():
            raise ExecutionInterrupted()

    def emit(self, event: Event) -> None:
        """Send an event to the execution's sink."""
        self._sink(event)

    def progress(self, value: float, total: float, preview: Any = None) -> None:
        """Report progress (value of total) for this node; also the point where interrupts land."""
        self.check_interrupt()
        node = self.display_node_id
        self._sink(Event(PROGRESS, {"value": value, "max": total, "prompt_id": self.prompt_id, "node": node}))
        if preview is not None:  # an image, or ComfyUI's ("JPEG", image, max_size) tuple
            fmt, image = (preview[0], preview[1]) if isinstance(preview, tuple) else ("JPEG", preview)
            self._sink(Event(PREVIEW, {"node": node, "prompt_id": self.prompt_id, "image": image, "format": fmt}))


_current: ContextVar[ExecutionContext | None] = ContextVar("loom_execution_context", default=None)


def current() -> ExecutionContext | None:
    """The context of the node running in this task/thread, or None outside execution."""
    return _current.get()


def _set_current(ctx: ExecutionContext | None):
    return _current.set(ctx)


def _reset_current(token) -> None:
    _current.reset(token)


class ProgressBar:
    """Progress reporting for V1 nodes, bound to the node running when it is created."""

    def __init__(self, total: float):
        self.total = total
        self.current = 0.0
        self._ctx = current()

    def update_absolute(self, value: float, total: float | None = None, preview: Any = None) -> None:
        if total is not None:
            self.total = total
        self.current = min(value, self.total) if self.total else value
        if self._ctx is not None:
            self._ctx.progress(self.current, self.total, preview)

    def update(self, n: float) -> None:
        self.update_absolute(self.current + n)
