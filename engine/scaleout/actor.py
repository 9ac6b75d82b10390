"""The Ray worker: one actor holding its own node registry (packs included), executor, output cache
and model manager, running one prompt at a time and streaming its events back in order.

`run_prompt` is a generator (a Ray streaming call): each item is {"events": [(type, data), ...]},
the last one {"result": ExecutionResult as a dict}. Other calls (interrupt, free, info) run beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from engine.graph.context import Interrupt

BATCH = 256  # most events in one streamed item


class PromptActor:
    """Built from the server's own flags by the server's own `build_engine` (flags, base dir -> folders,
    registry, pack report, executor), so a worker sees the same folders, models and packs."""

    def __init__(self, name: str, flags: dict, base_dir: str, build_engine: Callable[..., tuple]):
        self.name = name
        self.folders, self.registry, _, self.executor = build_engine(argparse.Namespace(**flags), Path(base_dir))
        self._interrupts: dict[str, Interrupt] = {}
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()  # the executor and its cache serve one prompt at a time
        self._free_request: bool | None = None

    def info(self) -> dict:
        """Who this worker is (the pid lets tests and operators kill it)."""
        return {"name": self.name, "pid": os.getpid(), "host": socket.gethostname()}

    def run_prompt(self, prompt_id: str, prompt: dict, extra_data: dict, targets: list[str] | None) -> Iterator[dict]:
        """Run one prompt (after any earlier one has stopped), yielding its events in batches, then its result."""
        events: queue.Queue = queue.Queue()
        interrupt = Interrupt()
        outcome: dict = {}

        def work() -> None:
            try:
                outcome["result"] = asyncio.run(self.executor.execute(
                    prompt, prompt_id, events.put, extra_data=extra_data, targets=targets, interrupt=interrupt))
            except BaseException as exc:  # noqa: BLE001 - re-raised on the streaming side
                outcome["error"] = exc
            finally:
                with self._lock:
                    self._interrupts.pop(prompt_id, None)
                self._apply_free()
                self._one_at_a_time.release()
                events.put(None)

        self._one_at_a_time.acquire()
        with self._lock:
            self._interrupts[prompt_id] = interrupt
        threading.Thread(target=work, name=f"loom-{self.name}-prompt", daemon=True).start()
        done = False
        while not done:
            batch = [events.get()]
            while len(batch) < BATCH and not events.empty():
                batch.append(events.get_nowait())
            done = batch[-1] is None
            messages = [(e.type, e.data) for e in batch if e is not None]
            if messages:
                yield {"events": messages}
        if "error" in outcome:
            raise outcome["error"]
        yield {"result": outcome["result"].to_dict()}

    def interrupt(self, prompt_id: str | None = None) -> bool:
        """Stop `prompt_id` (or whatever runs here); False when it does not run here."""
        with self._lock:
            targets = list(self._interrupts.values()) if prompt_id is None else [self._interrupts.get(prompt_id)]
        for flag in targets:
            if flag is not None:
                flag.set()
        return any(flag is not None for flag in targets)

    def free(self, unload_models: bool) -> None:
        """Drop cached outputs (and unload models) now if idle, else once the running prompt ends."""
        with self._lock:
            self._free_request = bool(unload_models or self._free_request)
            idle = not self._interrupts
        if idle:
            self._apply_free()

    def _apply_free(self) -> None:
        with self._lock:
            unload, self._free_request = self._free_request, None
        if unload is None:
            return
        self.executor.reset()
        models = getattr(self.registry.services, "models", None)
        if unload and models is not None and hasattr(models, "unload_all"):
            models.unload_all()
