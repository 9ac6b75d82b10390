"""Typed execution events with ComfyUI's websocket `type` names and `data` shapes.

The websocket, the CLI progress bar, history and the tests are all just sinks: `Callable[[Event], None]`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

EXECUTION_START = "execution_start"
EXECUTION_CACHED = "execution_cached"
EXECUTING = "executing"
PROGRESS = "progress"
EXECUTED = "executed"
EXECUTION_SUCCESS = "execution_success"
EXECUTION_ERROR = "execution_error"
EXECUTION_INTERRUPTED = "execution_interrupted"
PREVIEW = "preview"


@dataclass(slots=True)
class Event:
    """One message: `type` is the wire event name, `data` its JSON-able payload (previews excepted)."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    """A sink that drops everything."""


class EventLog:
    """A sink that records events in order; handy for tests and history."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        """The `data` of every recorded event of one type."""
        return [e.data for e in self.events if e.type == event_type]

    def types(self) -> list[str]:
        return [e.type for e in self.events]


def timestamp_ms() -> int:
    """Wall-clock milliseconds, as ComfyUI stamps its events."""
    return int(time.time() * 1000)
