"""Overall progress of the running prompt: nodes done out of total, the current node's step, an ETA.

Builds `progress_state` messages that carry only the nodes that changed (plus an `overall`
summary), so websocket traffic grows with the work done, never with the graph size squared.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from engine.progress_display import upstream_nodes


class Overall:
    """A progress_state's `overall` figures as numbers, turned into the wire dict by `as_json` when the
    message is encoded: the server merges a fast run's per-node messages, and of each burst only the last
    one is sent, so the others never need theirs."""

    __slots__ = ("done", "elapsed", "max", "node", "total", "value")

    def __init__(self, done: int, total: int, node: str | None, value: float, max_value: float, elapsed: float):
        self.done, self.total, self.node, self.value, self.max, self.elapsed = done, total, node, value, max_value, elapsed

    def as_json(self) -> dict:
        total = max(self.total, self.done + (1 if self.node else 0), 1)
        fraction = min(1.0, (self.done + (self.value / self.max if self.node else 0.0)) / total)
        eta = self.elapsed * (1 - fraction) / fraction if fraction > 0 else None
        return {"nodes_done": self.done, "nodes_total": total, "node": self.node, "value": self.value,
                "max": self.max, "fraction": round(fraction, 4), "elapsed_s": round(self.elapsed, 3),
                "eta_s": None if eta is None else round(eta, 3)}


class ProgressTracker:
    """Follows one prompt's events and answers the progress_state message for each change."""

    def __init__(self, prompt_id: str, prompt: dict, outputs: Iterable[str],
                 clock: Callable[[], float] = time.monotonic, needed: Iterable[str] | None = None,
                 deferred_overall: bool = False):
        """`needed`: the nodes the outputs depend on, when validation already listed them. `deferred_overall`:
        messages carry an `Overall` to be turned into its dict when encoded (see Overall)."""
        self.deferred_overall = deferred_overall
        self.prompt_id = prompt_id
        self.needed = set(needed) if needed is not None else upstream_nodes(prompt, outputs)
        self.total = len(self.needed)
        self.done = 0
        self.node: str | None = None
        self.value, self.max = 0.0, 1.0
        self._clock = clock
        self._started = clock()

    def cached(self, nodes: Iterable[str]) -> None:
        """Cached nodes will not run: they leave the total."""
        self.total -= len(self.needed.intersection(nodes))

    def start(self, node: str) -> dict:
        """A node began; the previous one (if any) is finished."""
        changed = self._close_current("finished")
        self.node, self.value, self.max = node, 0.0, 1.0
        changed[node] = self._entry(node, "running")
        return self._message(changed)

    def step(self, node: str, value: float, max_value: float) -> dict:
        self.node, self.value, self.max = node, float(value), float(max_value or 1)
        return self._message({node: self._entry(node, "running")})

    def end(self, state: str = "finished") -> dict:
        """The prompt ended; the last running node gets `state` (finished or error)."""
        return self._message(self._close_current(state))

    def overall(self) -> dict:
        return self._snapshot().as_json()

    def _snapshot(self) -> Overall:
        return Overall(self.done, self.total, self.node, self.value, self.max, self._clock() - self._started)

    def _close_current(self, state: str) -> dict:
        if self.node is None:
            return {}
        node = self.node
        self.done += 1
        self.value = self.max
        self.node = None
        return {node: self._entry(node, state)}

    def _entry(self, node: str, state: str) -> dict:
        return {"value": self.value, "max": self.max, "state": state, "node_id": node,
                "prompt_id": self.prompt_id, "display_node_id": node, "parent_node_id": None,
                "real_node_id": node}

    def _message(self, nodes: dict) -> dict:
        overall = self._snapshot() if self.deferred_overall else self.overall()
        return {"prompt_id": self.prompt_id, "nodes": nodes, "overall": overall}
