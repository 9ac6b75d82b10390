"""The aiohttp application factory: middlewares, routes (each also under /api), pages and the worker.

`create_app` takes everything it serves explicitly (settings, node registry, executor, queue),
so tests build a real app around their own nodes and folders. The registry may still be loading
(web/nodes_loading.py): the app answers at once, and what needs the nodes waits for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

import comfy_compat
from comfy_compat.server import prompt_transformers
from engine.queue import PromptQueue
from web import comfy_frontend
from web import routes as route_modules
from web.bodies import body_timeout_guard
from web.nodes_gate import PackRoutes, nodes_gate
from web.nodes_loading import Nodes, NodesLoading
from web.routes.info import server_features
from web.security import error_guard, host_guard, origin_guard, token_guard
from web.state import CONFIG, FOLDERS, HUB, NODES, PROMPT_TRANSFORMERS, QUEUE, WORKER, ServerConfig
from web.webhook import webhooks
from web.worker import PromptWorker
from web.ws import Hub

NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate"}


def _add_twice(app: web.Application, table: web.RouteTableDef) -> None:
    """Register each route at its path and under /api (as ComfyUI clients expect)."""
    for route in table:
        assert isinstance(route, web.RouteDef)
        for prefix in ("", "/api"):
            app.router.add_route(route.method, prefix + route.path, route.handler, **route.kwargs)


async def _index(request: web.Request) -> web.StreamResponse:
    """The canvas page."""
    index = request.app[CONFIG].static_dir / "index.html"
    if not index.is_file():
        return web.Response(text="Loom is running; the canvas is not built (web/static/index.html).",
                            headers=NO_CACHE)
    return web.FileResponse(index, headers=NO_CACHE)


def _file_handler(path: Path):
    async def send_file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    return send_file


def _canvas_entries(config: ServerConfig) -> dict[str, Path]:
    """URL path -> file or folder of the built canvas (web/static), index.html being '/'."""
    if not config.static_dir.is_dir():
        return {}
    return {f"/{entry.name}": entry for entry in sorted(config.static_dir.iterdir()) if entry.name != "index.html"}


def _is_canvas_file(canvas: dict[str, Path]) -> Callable[[str], bool]:
    """Whether a path is part of the canvas's own code (served without the token: it holds no data,
    and the page must load to ask for the token)."""
    folders = tuple(f"{url}/" for url, entry in canvas.items() if entry.is_dir())
    files = {"/", *(url for url, entry in canvas.items() if not entry.is_dir())}
    return lambda path: path in files or path.startswith(folders)


def _add_pages(app: web.Application, canvas: dict[str, Path]) -> None:
    app.router.add_get("/", _index)
    for url, entry in canvas.items():
        if entry.is_dir():
            app.router.add_static(url, entry, follow_symlinks=False)
        else:
            app.router.add_get(url, _file_handler(entry))


def create_app(config: ServerConfig, registry: Any, executor: Any, queue: PromptQueue,
               worker_factory: Callable[..., PromptWorker] | None = None) -> web.Application:
    """A ready-to-run application; the worker thread starts and stops with it. `registry` is the node
    registry, or a NodesLoading still building it (then `executor` waits for it too, see
    ExecutorWhenLoaded). `worker_factory` (same arguments as PromptWorker) replaces the in-process
    worker, e.g. by Ray lanes."""
    loading = registry if isinstance(registry, NodesLoading) else NodesLoading.ready(registry, executor)
    canvas = _canvas_entries(config)
    packs = PackRoutes()
    middlewares = [error_guard, host_guard(config.host_names), origin_guard(config.allow_origins),
                   body_timeout_guard(config.body_timeout_s)]
    if config.auth_token:
        middlewares.append(token_guard(config.auth_token, public=_is_canvas_file(canvas)))
    middlewares.append(nodes_gate(loading, packs))
    app = web.Application(middlewares=middlewares, client_max_size=config.max_upload_bytes)
    config.folders.ensure()
    app[CONFIG], app[FOLDERS], app[NODES], app[QUEUE] = config, config.folders, loading, queue
    app[PROMPT_TRANSFORMERS] = prompt_transformers()  # node packs' on-prompt handlers

    def free_memory(unload_models: bool) -> None:
        executor.reset()
        registry = loading.loaded.registry if loading.loaded is not None else None
        models = getattr(getattr(registry, "services", None), "models", None)
        if unload_models and models is not None and hasattr(models, "unload_all"):
            models.unload_all()

    hub = Hub(server_features(app))
    worker = (worker_factory or PromptWorker)(queue, executor, hub, free_memory)
    if isinstance(worker, PromptWorker) and worker.folders is None:  # executor still loading: no registry yet
        worker.folders = config.folders  # its error messages name input/x.png, not the server's layout
    hub.on_connect = worker.connect_messages
    app[HUB], app[WORKER] = hub, worker
    comfy_frontend.attach(app)  # settings, logs, templates and docs folders the editors read
    for prefix in ("", "/api"):
        app.router.add_get(prefix + "/ws", hub.handle)
    for table in route_modules.ALL:
        _add_twice(app, table)
    _add_pages(app, canvas)
    loading.on_loaded(lambda nodes: packs.build(config))  # pack routes: behind (never over) the core's
    app.on_shutdown.append(_stop_serving)
    app.cleanup_ctx.append(webhooks)  # before the worker: its session outlives the last prompt
    app.cleanup_ctx.append(_run_worker)
    return app


async def _stop_serving(app: web.Application) -> None:
    """On shutdown, before aiohttp waits for open connections to end: cut the running prompt short (it goes
    back to the queue) and close the websockets, which an open editor would otherwise hold (before: with one
    socket open during a prompt, SIGINT had not ended the server 10 minutes later)."""
    app[WORKER].halt()
    await app[HUB].close_all()


async def _run_worker(app: web.Application) -> AsyncIterator[None]:
    app[WORKER].start()
    loop = asyncio.get_running_loop()

    def bind_prompt_server(nodes: Nodes) -> None:
        """ComfyUI's PromptServer.instance reaches this app once packs have imported (while they import,
        it is an app of their own whose routes the pack router serves)."""
        comfy_compat.set_server(app, app[HUB], loop, app[WORKER])

    app[NODES].on_loaded(bind_prompt_server)
    yield
    comfy_compat.clear_server(app[HUB])
    await app[WORKER].stop()
    app[QUEUE].close()
