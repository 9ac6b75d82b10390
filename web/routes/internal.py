"""/internal/*: what ComfyUI's editor reads for its own panels (logs, model folders, file lists);
not a public API, served because the editor calls it."""

from __future__ import annotations

import asyncio
import os

from aiohttp import web

from web.log_buffer import LogBuffer, terminal_size
from web.nodes_loading import needs_nodes
from web.state import FOLDERS

routes = web.RouteTableDef()
LOGS = web.AppKey("log_buffer", LogBuffer)
LISTED_ROOTS = ("output", "input", "temp")


@routes.get("/internal/logs")
async def logs(request: web.Request) -> web.Response:
    """The recent log lines as one text."""
    return web.json_response(request.app[LOGS].text())


@routes.get("/internal/logs/raw")
async def raw_logs(request: web.Request) -> web.Response:
    """The recent log lines as [{t, m}] and the terminal size the lines were written for."""
    return web.json_response({"entries": list(request.app[LOGS].entries), "size": terminal_size()})


@routes.patch("/internal/logs/subscribe")
async def subscribe_logs(request: web.Request) -> web.Response:
    """{clientId, enabled}: start or stop sending that client each new line over the websocket."""
    try:
        body = await request.json()
        client_id, enabled = str(body["clientId"]), bool(body["enabled"])
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text="expected a JSON object {clientId, enabled}") from None
    subscribers = request.app[LOGS].subscribers
    if enabled:
        subscribers.add(client_id)
    else:
        subscribers.discard(client_id)
    return web.Response()


@routes.get("/internal/folder_paths")
@needs_nodes
async def folder_paths(request: web.Request) -> web.Response:
    """Model kind -> the folders searched for it."""
    model_folders = request.app[FOLDERS].model_folders
    return web.json_response({kind: [str(path) for path in paths] for kind, paths in model_folders.items()})


def _newest_first(folder) -> list[str]:
    if not folder.is_dir():
        return []
    entries = [entry for entry in os.scandir(folder) if entry.is_file()]
    return [entry.name for entry in sorted(entries, key=lambda entry: -entry.stat().st_mtime)]


@routes.get("/internal/files/{directory_type}")
async def files(request: web.Request) -> web.Response:
    """Names of the files directly in the output, input or temp folder, newest first."""
    kind = request.match_info["directory_type"]
    if kind not in LISTED_ROOTS:
        return web.json_response({"error": "Invalid directory type"}, status=400)
    return web.json_response(await asyncio.to_thread(_newest_first, request.app[FOLDERS].root(kind)))
