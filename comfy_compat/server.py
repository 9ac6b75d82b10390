"""ComfyUI's `server` module: `PromptServer.instance`, mapped onto Loom's web app, websocket hub (web/ws.py)
and prompt queue (engine/queue.py).

Packs add aiohttp routes to `PromptServer.instance.routes` at import time; the web app serves them (also
under /api) behind the core routes (web/nodes_gate.py), so a pack can never replace one. `send_sync` reaches the websocket
clients once the app has started (web/app.py calls `set_server`); before that, or headless, it is a no-op.
"""

from __future__ import annotations

import logging
import uuid  # noqa: F401 - packs reach server.uuid
from typing import Any

from aiohttp import web

from comfy_compat import state
from engine.graph import context

log = logging.getLogger("loom.comfy_compat")


class BinaryEventTypes:
    """Type codes of binary websocket messages (previews)."""

    PREVIEW_IMAGE = 1
    UNENCODED_PREVIEW_IMAGE = 2
    TEXT = 3
    PREVIEW_IMAGE_WITH_METADATA = 4


class PromptQueueView:
    """ComfyUI's `PromptServer.instance.prompt_queue`, over Loom's queue of the running server."""

    @staticmethod
    def _queue() -> Any:
        worker = state.server_worker()
        return getattr(worker, "queue", None)

    def get_current_queue(self) -> tuple[list, list]:
        """(running, pending) queue items as ComfyUI lists them ([number, prompt_id, prompt, extra, outputs])."""
        queue = self._queue()
        if queue is None:
            return [], []
        return [item.as_list() for item in queue.running()], [item.as_list() for item in queue.pending()]

    get_current_queue_volatile = get_current_queue

    def get_tasks_remaining(self) -> int:
        queue = self._queue()
        return queue.remaining() if queue is not None else 0

    def wipe_queue(self) -> None:
        queue = self._queue()
        if queue is not None:
            queue.clear()

    def delete_queue_item(self, function: Any) -> bool:
        """Delete the first pending item `function(item_as_list)` accepts."""
        queue = self._queue()
        for item in queue.pending() if queue is not None else []:
            if function(item.as_list()):
                return queue.delete([item.prompt_id]) > 0
        return False

    def get_history(self, prompt_id: str | None = None, max_items: int | None = None, offset: int = -1) -> dict:
        queue = self._queue()
        if queue is None:
            return {}
        if prompt_id is not None:
            entry = queue.history_entry(prompt_id)
            return {prompt_id: entry} if entry is not None else {}
        return queue.history(max_items, offset)

    def set_flag(self, name: str, data: Any) -> None:
        """`unload_models` / `free_memory` requests go to the worker, as POST /free does."""
        worker = state.server_worker()
        if worker is not None and name in ("unload_models", "free_memory"):
            worker.request_free(name == "unload_models" and bool(data), name == "free_memory" and bool(data))


class PromptServer:
    """The one instance packs reach as `PromptServer.instance`."""

    instance: PromptServer

    def __init__(self) -> None:
        self.routes = web.RouteTableDef()
        self.early_app = web.Application()
        self.prompt_queue = PromptQueueView()
        self.supports = ["custom_nodes_from_web"]
        self.on_prompt_handlers: list = []
        self.number = 0
        self.sockets: dict = {}
        self.client_session = None

    def add_on_prompt_handler(self, handler: Any) -> None:
        """`handler(json)` gets each POST /prompt body before it is read and returns the body to use."""
        self.on_prompt_handlers.append(handler)

    def trigger_on_prompt(self, json_data: Any) -> Any:
        """Pass a POST /prompt body through every handler in turn; one that raises is logged and skipped."""
        for handler in list(self.on_prompt_handlers):
            try:
                json_data = handler(json_data)
            except Exception:  # a pack's broken hook must not refuse the prompt (as in ComfyUI)
                log.warning("on_prompt handler %r failed; prompt passed on unchanged", handler, exc_info=True)
        return json_data

    def send_progress_text(self, text: str, node_id: str | None = None, sid: str | None = None) -> None:
        """Text shown on a node while it runs."""
        self.send_sync("progress_text", {"node": node_id or self.last_node_id, "text": text}, sid)

    @property
    def app(self) -> web.Application:
        """The running aiohttp app once the packs have loaded; while they import, an app of its own whose
        routes and middlewares the web app serves behind its own (web/nodes_gate.py)."""
        return state.server_app() or self.early_app

    @property
    def loop(self) -> Any:
        return state.server_hub()[1]

    @property
    def client_id(self) -> str | None:
        """The client that queued the prompt now running (None outside a node or for anonymous prompts)."""
        ctx = context.current()
        return ctx.extra_data.get("client_id") if ctx is not None else None

    @property
    def last_node_id(self) -> str | None:
        """The node now running (its display id), None outside execution."""
        ctx = context.current()
        return ctx.display_node_id if ctx is not None else None

    @property
    def last_prompt_id(self) -> str | None:
        ctx = context.current()
        return ctx.prompt_id if ctx is not None else None

    def send_sync(self, event: str, data: Any, sid: str | None = None) -> None:
        """Send `{"type": event, "data": data}` to client `sid`'s websockets, or to every client when None.

        Safe from any thread: delivery is handed to the server's event loop, in order with the
        prompt's own messages.
        """
        hub, loop = state.server_hub()
        if hub is None or loop is None or loop.is_closed():
            log.debug("send_sync(%r) with no server running: dropped", event)
            return
        hub.send_threadsafe(event, data, sid)

    async def send(self, event: str, data: Any, sid: str | None = None) -> None:
        self.send_sync(event, data, sid)

    async def send_json(self, event: str, data: Any, sid: str | None = None) -> None:
        self.send_sync(event, data, sid)


PromptServer.instance = PromptServer()


class _OnPromptHandlers:
    """The packs' on-prompt handlers as one body transformer; false while no pack has registered one, so
    POST /prompt knows the body is still exactly what the client sent."""

    def __call__(self, json_data: Any) -> Any:
        return PromptServer.instance.trigger_on_prompt(json_data)

    def __bool__(self) -> bool:
        return bool(PromptServer.instance.on_prompt_handlers)


def prompt_transformers() -> list:
    """What Loom's POST /prompt passes each request body through: the packs' on-prompt handlers."""
    return [_OnPromptHandlers()]


def mount_routes(router: web.UrlDispatcher, prefixes: tuple[str, ...] = ("", "/api")) -> list[str]:
    """Add the routes packs registered on `PromptServer.instance.routes` (or on its app while they
    imported) to `router`; returns the problems (e.g. a path registered twice), logged and skipped."""
    problems = []
    for resource in PromptServer.instance.early_app.router.resources():
        for route in resource:
            try:
                for prefix in prefixes:
                    router.add_route(route.method, prefix + resource.canonical, route.handler)
            except (RuntimeError, ValueError) as exc:
                problems.append(f"node pack route {route!r} not mounted: {exc}")
    for route in PromptServer.instance.routes:
        try:
            if isinstance(route, web.RouteDef):
                for prefix in prefixes:
                    router.add_route(route.method, prefix + route.path, route.handler, **route.kwargs)
            else:
                route.register(router)
        except (RuntimeError, ValueError) as exc:
            problems.append(f"node pack route {route!r} not mounted: {exc}")
    for problem in problems:
        log.warning(problem)
    return problems


def pack_middlewares() -> list:
    """The middlewares packs appended to `PromptServer.instance.app` while they imported."""
    return list(PromptServer.instance.early_app.middlewares)
