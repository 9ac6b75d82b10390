"""The headless runner's progress display: an event sink that writes to stderr.

On a terminal it redraws one line (overall count, node, step bar); otherwise (CI logs, pipes)
it prints plain lines, a few per node at most. `upstream_nodes` (what a run executes, the total
to count against) is shared with the server's progress messages.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import TextIO

from engine.graph.events import (
    EXECUTING,
    EXECUTION_CACHED,
    EXECUTION_START,
    PROGRESS,
    Event,
)
from engine.graph.types import is_link

BAR_WIDTH = 24


def upstream_nodes(prompt: dict, outputs: Iterable[str]) -> set[str]:
    """Ids of `outputs` and every node they depend on through links (any depth; malformed nodes
    and links to missing nodes are skipped, so an unvalidated prompt cannot break the count)."""
    seen: set[str] = set()
    stack = [str(o) for o in outputs if str(o) in prompt]
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        node = prompt[node_id]
        inputs = node.get("inputs") if isinstance(node, dict) else None
        for value in inputs.values() if isinstance(inputs, dict) else ():
            if is_link(value) and value[0] in prompt:
                stack.append(value[0])
    return seen


class ProgressDisplay:
    """Shows `[done/total] #id Class` per node and each node's step progress."""

    def __init__(self, prompt: dict, expected_nodes: int, stream: TextIO | None = None, quiet: bool = False,
                 display_names: dict[str, str] | None = None):
        self.prompt = prompt
        self.display_names = display_names or {}
        self.total = expected_nodes
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self.done = 0
        self.current: str | None = None
        self.last_plain_percent = -1
        self.started = time.perf_counter()

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        data = event.data
        if event.type == EXECUTION_START:
            self.started = time.perf_counter()
        elif event.type == EXECUTION_CACHED and data.get("nodes"):
            self.total = max(0, self.total - len(data["nodes"]))
            self._line(f"{len(data['nodes'])} node(s) cached", final=True)
        elif event.type == EXECUTING and data.get("node") is not None:
            if self.current is not None:  # the previous node finished
                self.done += 1
                if self.tty:
                    self.stream.write("\n")
            self.current = str(data["node"])
            self.last_plain_percent = -1
            self._line(self._label(), final=not self.tty)
        elif event.type == PROGRESS:
            self._progress(float(data.get("value", 0)), float(data.get("max", 0) or 0))

    def _label(self) -> str:
        node = self.prompt.get(self.current or "", {})
        shown = min(self.done + 1, max(self.total, self.done + 1))
        title = (node.get("_meta") or {}).get("title")
        class_type = node.get("class_type", "?")
        default_titles = (class_type, self.display_names.get(class_type))
        name = class_type if not title or title in default_titles else f"{class_type} '{title}'"
        return f"[{shown}/{max(self.total, shown)}] #{self.current} {name}"

    def _progress(self, value: float, total: float) -> None:
        if total <= 0:
            return
        fraction = min(1.0, value / total)
        if self.tty:
            filled = round(fraction * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self._line(f"{self._label()} [{bar}] {value:g}/{total:g}", final=False)
            return
        percent = int(fraction * 100) // 25 * 25
        if percent > self.last_plain_percent:
            self.last_plain_percent = percent
            self._line(f"    #{self.current}: {value:g}/{total:g}", final=True)

    def _line(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[2K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, message: str) -> None:
        """End the display with a summary line."""
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.started
        self._line(f"{message} in {elapsed:.2f}s", final=True)
