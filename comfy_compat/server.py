"""ComfyUI's `server` module: `PromptServer.instance`, mapped onto Loom's web app and websocket hub (web/ws.py).

Packs add aiohttp routes to `PromptServer.instance.routes` at import time; the web app mounts them (also
under /api) after the core routes, so a pack can never replace one. `send_sync` reaches the websocket
clients once the app has started (web/app.py calls `set_server`); before that, or headless, it is a no-op.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from comfy_compat import state
from engine.graph import context

log = logging.getLogger("loom.comfy_compat")


class PromptServer:
    """The one instance packs reach as `PromptServer.instance`."""

    instance: PromptServer

    def __init__(self) -> None:
        self.routes = web.RouteTableDef()

    @property
    def app(self) -> web.Application | None:
        """The running aiohttp app (None until the server started; routes go through `.routes`)."""
        return state.server_app()

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

        Safe from any thread: delivery is handed to the server's event loop.
        """
        hub, loop = state.server_hub()
        if hub is None or loop is None or loop.is_closed():
            log.debug("send_sync(%r) with no server running: dropped", event)
            return
        loop.call_soon_threadsafe(hub.send, event, data, sid)

    async def send(self, event: str, data: Any, sid: str | None = None) -> None:
        self.send_sync(event, data, sid)

    async def send_json(self, event: str, data: Any, sid: str | None = None) -> None:
        self.send_sync(event, data, sid)


PromptServer.instance = PromptServer()


def mount_routes(app: web.Application, prefixes: tuple[str, ...] = ("", "/api")) -> list[str]:
    """Add the routes packs registered on `PromptServer.instance.routes` to `app`; returns the problems
    (e.g. a path a core route already answers), which are logged and skipped."""
    problems = []
    for route in PromptServer.instance.routes:
        try:
            if isinstance(route, web.RouteDef):
                for prefix in prefixes:
                    app.router.add_route(route.method, prefix + route.path, route.handler, **route.kwargs)
            else:
                route.register(app.router)
        except (RuntimeError, ValueError) as exc:
            problems.append(f"node pack route {route!r} not mounted: {exc}")
    for problem in problems:
        log.warning(problem)
    return problems
