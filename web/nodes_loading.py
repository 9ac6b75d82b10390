"""The node registry as the server sees it: built in a background thread once the port is open, and
waited for, transparently, by the requests whose answer depends on it.

Building the registry imports every node module and pack, and torch with them (1.5 s and more on a
2-core machine). The server opens its port first, so the queue, history, files and pages answer at
once; a request that needs the nodes (their list, validating a prompt, the model folders packs may add,
the packs' own routes) waits until they have loaded and never sees a partial list. A load that fails
answers those requests with 503 naming the cause.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

log = logging.getLogger("loom.server")
NEEDS_NODES = "_loom_needs_nodes"  # handler attribute set by @needs_nodes


@dataclass(frozen=True)
class Nodes:
    """What the load produced: the registry, and the executor that runs prompts on it."""

    registry: Any
    executor: Any


class NodesLoadFailed(RuntimeError):
    """The background load raised; the message names the cause."""


class NodesLoading:
    """A load that runs once, in its own thread; hooks run on that thread before anyone sees the result,
    so what they set up (pack routes, ComfyUI's PromptServer) is in place when the first waiter wakes."""

    def __init__(self, build: Callable[[], Nodes] | None = None):
        self._build = build
        self._future: concurrent.futures.Future[Nodes] = concurrent.futures.Future()
        self._future.set_running_or_notify_cancel()  # a waiter that gives up must not cancel the load
        self._hooks: list[Callable[[Nodes], None]] = []
        self._lock = threading.Lock()
        self._started = False

    @classmethod
    def ready(cls, registry: Any, executor: Any) -> NodesLoading:
        """Nodes built beforehand (tests, benchmarks): nothing to wait for."""
        loading = cls()
        loading._future.set_result(Nodes(registry, executor))
        return loading

    def start(self) -> None:
        """Run the build in a daemon thread (once; a ready or started load ignores this)."""
        with self._lock:
            starting, self._started = self._build is not None and not self._started, True
        if starting:
            threading.Thread(target=self._run, name="loom-nodes-loading", daemon=True).start()

    def _run(self) -> None:
        try:
            nodes = self._build()
            with self._lock:
                hooks, self._hooks = self._hooks, []
            for hook in hooks:
                hook(nodes)
        except BaseException as exc:  # even a pack calling sys.exit(): every waiter gets the cause (503)
            log.exception("the node registry failed to load; /object_info and POST /prompt answer 503")
            self._future.set_exception(NodesLoadFailed(f"{type(exc).__name__}: {exc}"))
        else:
            self._future.set_result(nodes)

    def on_loaded(self, hook: Callable[[Nodes], None]) -> None:
        """Call `hook(nodes)` once loaded: now if the nodes are ready, else on the loading thread."""
        with self._lock:
            if not self._future.done():
                self._hooks.append(hook)
                return
        if self._future.exception() is None:
            hook(self._future.result())

    @property
    def loaded(self) -> Nodes | None:
        """The nodes if they have loaded, else None (never waits)."""
        done = self._future.done() and self._future.exception() is None
        return self._future.result() if done else None

    @property
    def registry(self) -> Any:
        """The registry; only for code that has awaited `wait()` (the gate in web/app.py does)."""
        if self.loaded is None:
            raise RuntimeError("the node registry has not loaded yet: await NodesLoading.wait() first")
        return self.loaded.registry

    async def nodes(self) -> Nodes:
        """The nodes once loaded, from any thread's event loop; raises NodesLoadFailed if the load failed."""
        return await asyncio.wrap_future(self._future)

    async def settled(self) -> None:
        """Return once the load has finished, whether it succeeded or not."""
        with contextlib.suppress(NodesLoadFailed):
            await self.nodes()

    async def wait(self) -> Nodes:
        """The nodes once loaded; raises HTTPServiceUnavailable naming the cause if the load failed."""
        try:
            return await self.nodes()
        except NodesLoadFailed as exc:
            raise web.HTTPServiceUnavailable(text=f"the node registry failed to load: {exc}") from None


def needs_nodes(handler: Callable) -> Callable:
    """Mark a route whose answer depends on the loaded nodes or packs: the gate makes it wait for them."""
    setattr(handler, NEEDS_NODES, True)
    return handler


class ExecutorWhenLoaded:
    """The prompt worker's executor before the nodes exist: a prompt queued during the load (or left
    from the last run) waits for it, then runs on the loaded executor."""

    def __init__(self, loading: NodesLoading):
        self._loading = loading

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        nodes = await self._loading.nodes()
        return await nodes.executor.execute(*args, **kwargs)

    async def settled(self) -> None:
        """Return once the load has finished, whether it succeeded or not."""
        await self._loading.settled()

    def reset(self) -> None:
        """Forget cached outputs (nothing is cached before the load)."""
        if self._loading.loaded is not None:
            self._loading.loaded.executor.reset()
