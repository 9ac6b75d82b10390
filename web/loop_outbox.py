"""Hand-off of websocket messages and callbacks from other threads to the event loop, in batches.

The prompt worker emits a message or two per node; handing each to the loop with its own
`call_soon_threadsafe` costs a self-pipe write, a loop wake-up and a GIL hand-over per message,
which dominated a fast graph's run time. Here the first message of a batch schedules one flush;
whatever the thread adds before the loop gets to it rides along, in order. While messages keep
coming, batches go out at most every PACE_S: each one wakes the loop, encodes, writes to every
socket, and every system call on the way hands the GIL to the worker and waits to get it back
(a 1,000-node chain through the server took twice its in-process time with a batch per ms).
A call (a prompt's end, a preview) flushes at once. While the loop is behind, `progress_state`
messages of one prompt and client are merged (they carry the nodes that changed, so the merge
keeps the latest state of each) and go out once, where the last one stood.

A burst (HANDOFF_MESSAGES within HANDOFF_BURST_S: the `executed` messages of a cached run's outputs) is
handed over at once, its producer waiting (the GIL released) until the loop has written it. Otherwise the
loop, which waits up to the interpreter's 5 ms switch interval for the GIL while the worker computes, sent
the whole burst at the prompt's end, and the client's reading of it (~10 µs a message) came on top of the
run: a 1,001-node cached fan-out through the server went from 21.1 to 17.6 ms with the hand-off. Slower
streams (a chain's per-node messages) keep the pace: a hand-off costs two thread wake-ups.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
PROGRESS_STATE = "progress_state"
GATHER_S = 0.001  # how long the first message after a quiet spell waits for company
PACE_S = 0.01  # while messages keep coming, the least time between two batches (100 a second)
HANDOFF_MESSAGES = 128  # a batch that grows this large within HANDOFF_BURST_S is handed over at once
HANDOFF_BURST_S = 0.003
HANDOFF_WAIT_S = 0.005  # the longest its producer waits for the loop to have written it


class Message:
    """A websocket message for `client_id` (None: every client)."""

    __slots__ = ("client_id", "data", "event")

    def __init__(self, event: str, data: dict, client_id: str | None):
        self.event, self.data, self.client_id = event, data, client_id


def merge_progress(items: list[Any]) -> list[Any]:
    """`items` with the progress_state messages of each (client, prompt) merged into the last one: its data,
    with the nodes of all of them (a later entry of a node replaces the earlier one)."""
    out: list[Any] = []
    groups: dict[tuple, list] = {}  # (client, prompt) -> [index in out of its latest, nodes so far, count]
    for item in items:
        if isinstance(item, Message) and item.event == PROGRESS_STATE:
            key = (item.client_id, item.data.get("prompt_id"))
            group = groups.get(key)
            if group is None:
                groups[key] = [len(out), item.data.get("nodes", {}), 1]
            else:
                out[group[0]] = None
                if group[2] == 1:  # the first message's dict is its own: copied before it grows
                    group[1] = dict(group[1])
                group[1].update(item.data.get("nodes", {}))
                group[0], group[2] = len(out), group[2] + 1
        out.append(item)
    for at, nodes, count in groups.values():
        if count > 1:
            last = out[at]
            out[at] = Message(PROGRESS_STATE, {**last.data, "nodes": nodes}, last.client_id)
    return [item for item in out if item is not None]


class LoopOutbox:
    """Thread-safe queue of messages and calls, run on `loop` in the order they were added."""

    def __init__(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[list[Message]], None]):
        self.loop = loop
        self._deliver = deliver  # sends messages in order (each run of messages between two calls at once)
        self._items: list[Any] = []
        self._lock = threading.Lock()
        self._flushed_at = float("-inf")  # loop time of the last batch
        self._batch_began = 0.0  # monotonic time of the first message waiting

    def message(self, event: str, data: dict, client_id: str | None = None) -> None:
        """Send a websocket message from any thread."""
        self._add(Message(event, data, client_id), at_once=False)

    def call(self, fn: Callable, *args: Any) -> None:
        """Run `fn(*args)` on the loop, after everything added before it; the batch goes out now."""
        self._add((fn, args), at_once=True)

    def _add(self, item: Any, at_once: bool) -> None:
        with self._lock:
            self._items.append(item)
            count = len(self._items)
            first = count == 1  # otherwise a flush is already scheduled and will take this one too
            if first:
                self._batch_began = time.monotonic()
        if count == HANDOFF_MESSAGES and not at_once and time.monotonic() - self._batch_began < HANDOFF_BURST_S:
            self._hand_off()
        elif (first or at_once) and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self._flush if at_once else self._schedule)
            except RuntimeError:  # the loop closed in between: the server is gone
                pass

    def _hand_off(self) -> None:
        """Have the loop send the batch now, and wait until its sockets were written (the loop's own thread
        does not wait for itself)."""
        done = threading.Event()
        try:
            self.loop.call_soon_threadsafe(self._flush_then, done.set)
        except RuntimeError:  # the loop closed: the server is gone
            return
        try:
            on_loop = asyncio.get_running_loop() is self.loop
        except RuntimeError:  # a thread without a loop of its own
            on_loop = False
        if not on_loop:
            done.wait(HANDOFF_WAIT_S)

    def _flush_then(self, signal: Callable[[], None]) -> None:
        self._flush()
        self.loop.call_soon(signal)  # after the sockets' writers ran

    def _schedule(self) -> None:
        delay = max(GATHER_S, self._flushed_at + PACE_S - self.loop.time())
        self.loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        if not items:  # taken by a call's flush meanwhile
            return
        self._flushed_at = self.loop.time()
        messages: list[Message] = []
        for item in [*merge_progress(items), None]:
            if isinstance(item, Message):
                messages.append(item)
                continue
            if messages:
                self._run(self._deliver, messages)
                messages = []
            if item is not None:
                fn, args = item
                self._run(fn, *args)

    @staticmethod
    def _run(fn: Callable, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:  # one failing delivery must not drop the rest of the batch
            log.exception("%r from another thread failed", fn)
