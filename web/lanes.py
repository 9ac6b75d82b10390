"""Several prompts at once for the server: one prompt lane (the server's own PromptWorker) per Ray
worker, all claiming from the one persistent queue, seen by the routes as a single worker.

Each lane runs one prompt at a time through the shared RayExecutor, which places it on a worker;
events, history and interrupts go through the lane exactly as with the in-process executor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from engine.queue import PromptQueue
from web.worker import PromptWorker
from web.ws import Hub


class PromptLanes:
    """The PromptWorker interface the routes use, over `executor.slots` lanes."""

    def __init__(self, queue: PromptQueue, executor: Any, hub: Hub, free_memory: Callable[[bool], None]):
        self.executor = executor
        self.lanes = [PromptWorker(queue, executor, hub, free_memory) for _ in range(executor.slots)]
        self.on_finished: list[Callable[[str, dict], None]] = []
        for lane in self.lanes:
            lane.on_finished = self.on_finished
        self._waits: dict[asyncio.Future, list[asyncio.Future]] = {}

    def start(self) -> None:
        for lane in self.lanes:
            lane.start()

    def halt(self) -> None:
        for lane in self.lanes:
            lane.halt()

    async def stop(self) -> None:
        await asyncio.gather(*(lane.stop() for lane in self.lanes))

    def wait_for(self, prompt_id: str) -> asyncio.Future:
        """A future resolved with the history entry by whichever lane runs `prompt_id`."""
        combined = asyncio.get_running_loop().create_future()
        parts = [lane.wait_for(prompt_id) for lane in self.lanes]

        def resolve(part: asyncio.Future) -> None:
            if not combined.done() and not part.cancelled():
                combined.set_result(part.result())

        for part in parts:
            part.add_done_callback(resolve)
        self._waits[combined] = parts
        return combined

    def forget_waiter(self, prompt_id: str, future: asyncio.Future) -> None:
        for lane, part in zip(self.lanes, self._waits.pop(future, []), strict=True):
            lane.forget_waiter(prompt_id, part)

    def interrupt(self, prompt_id: str | None = None) -> str:
        """Interrupt every running prompt, or the lane running `prompt_id` (a pending one is cancelled)."""
        running = [lane for lane in self.lanes if lane.current is not None]
        if prompt_id is None:
            for lane in running:
                lane.interrupt()
            return "interrupted" if running else "idle"
        for lane in running:
            current = lane.current
            if current is not None and current.item.prompt_id == prompt_id:
                return lane.interrupt(prompt_id)
        return self.lanes[0].interrupt(prompt_id)

    def request_free(self, unload_models: bool, free_memory: bool) -> None:
        """Each worker frees its caches (and models) once its running prompt ends."""
        if unload_models or free_memory:
            self.executor.free(unload_models)

    def broadcast_status(self) -> None:
        self.lanes[0].broadcast_status()

    def connect_messages(self, client_id: str) -> list[tuple[str, dict]]:
        """The queue status once, then where each of the client's running prompts is."""
        first, *others = [lane.connect_messages(client_id) for lane in self.lanes]
        return first + [message for messages in others for message in messages[1:]]
