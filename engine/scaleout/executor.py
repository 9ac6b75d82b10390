"""The executor interface of the server's prompt worker (`execute`, `reset`), running each prompt on a
Ray worker chosen by model affinity, with its events relayed in order and its interrupts forwarded.

A worker whose process dies mid-prompt is replaced for that prompt by another one (the prompt stays
"running" in the persistent queue meanwhile); after `max_attempts` deaths the prompt fails with a reason.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ray.exceptions import RayActorError

from engine.graph.context import Interrupt
from engine.graph.events import Event, EventSink, null_sink, timestamp_ms
from engine.graph.executor import ExecutionResult
from engine.scaleout.affinity import model_keys
from engine.scaleout.pool import Worker, WorkerPool

INTERRUPT_POLL_S = 0.05


class WorkerLost(RuntimeError):
    """The prompt's worker died too many times."""


class RayExecutor:
    """`slots` prompts run at once, one per worker; the prompt lanes call `execute` from their threads."""

    def __init__(self, pool: WorkerPool, max_attempts: int = 3):
        self.pool = pool
        self.max_attempts = max_attempts

    @property
    def slots(self) -> int:
        return self.pool.size

    def reset(self) -> None:
        """Forget every worker's cached outputs (between their prompts)."""
        self.pool.free(unload_models=False)

    def free(self, unload_models: bool) -> None:
        self.pool.free(unload_models)

    async def execute(self, prompt: dict, prompt_id: str, sink: EventSink = null_sink,
                      extra_data: dict | None = None, targets: list[str] | None = None,
                      interrupt: Interrupt | None = None, validation: Any = None) -> ExecutionResult:
        """Run `prompt` on the best idle worker; `execution_start` names the worker in its data. (`validation`
        is not sent along: the worker validates the prompt against its own registry.)"""
        keys, interrupt = model_keys(prompt), interrupt or Interrupt()
        for attempt in range(1, self.max_attempts + 1):
            worker = await asyncio.to_thread(self.pool.acquire, prompt_id, keys)
            started = time.monotonic()
            watcher = asyncio.ensure_future(self._forward_interrupt(interrupt, worker, prompt_id))
            try:
                result = await self._stream(worker, prompt, prompt_id, sink, extra_data or {}, targets)
            except RayActorError as exc:
                self.pool.lost(prompt_id, worker)
                if interrupt.is_set():  # it was being stopped anyway: do not start it again
                    sink(Event("execution_interrupted", {"prompt_id": prompt_id, "node_id": None, "node_type": None,
                                                         "executed": [], "timestamp": timestamp_ms()}))
                    return ExecutionResult(prompt_id, "interrupted")
                sink(Event("execution_requeued", {"prompt_id": prompt_id, "worker": worker.state.name,
                                                  "attempt": attempt, "reason": str(exc).splitlines()[0]}))
                continue
            except BaseException:
                self.pool.release(prompt_id, worker, keys, time.monotonic() - started)
                raise
            finally:
                watcher.cancel()
            self.pool.release(prompt_id, worker, keys, time.monotonic() - started)
            return result
        raise WorkerLost(f"prompt {prompt_id}: its Ray worker died {self.max_attempts} times while running it; "
                         "not started again")

    async def _stream(self, worker: Worker, prompt: dict, prompt_id: str, sink: EventSink, extra_data: dict,
                      targets: list[str] | None) -> ExecutionResult:
        stream = worker.actor.run_prompt.options(num_returns="streaming").remote(
            prompt_id, prompt, extra_data, targets)
        result: dict | None = None
        async for ref in stream:
            item = await ref
            for kind, data in item.get("events", ()):
                if kind == "execution_start":
                    data = {**data, "worker": worker.state.name}
                sink(Event(kind, data))
            result = item.get("result", result)
        if result is None:
            raise RuntimeError(f"Ray worker {worker.state.name} ended prompt {prompt_id} without a result")
        return ExecutionResult(**result)

    @staticmethod
    async def _forward_interrupt(interrupt: Interrupt, worker: Worker, prompt_id: str) -> None:
        """Tell the worker once the flag is set (again until the prompt has started there)."""
        while True:
            await asyncio.sleep(INTERRUPT_POLL_S)
            if interrupt.is_set():
                try:
                    if await worker.actor.interrupt.remote(prompt_id):
                        return
                except RayActorError:
                    return
