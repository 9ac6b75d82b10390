"""Model downloads the canvas offers for a workflow's missing files: POST /models/download starts one into a
known model folder, progress goes to every websocket as `loom.download`, GET /models/downloads lists them."""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from pathlib import Path

import aiohttp
from aiohttp import web

from engine.downloads import DownloadFailed, DownloadRefused, download, make_target
from web.nodes_loading import needs_nodes
from web.state import CONFIG, FOLDERS, HUB

routes = web.RouteTableDef()
EVENT = "loom.download"
REPORT_EVERY_S = 0.25

# Per application (apps are frozen once serving, so their own state cannot take new keys).
_STATES: weakref.WeakKeyDictionary[web.Application, dict[str, dict]] = weakref.WeakKeyDictionary()
_TASKS: set[asyncio.Task] = set()


def _states(app: web.Application) -> dict[str, dict]:
    return _STATES.setdefault(app, {})


async def _run(app: web.Application, state: dict, target) -> None:
    hub = app[HUB]
    last = 0.0

    def report(done: int, total: int | None) -> None:
        nonlocal last
        state.update(downloaded=done, total=total)
        if time.monotonic() - last >= REPORT_EVERY_S:
            last = time.monotonic()
            hub.send(EVENT, dict(state))

    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_read=60)) as session:
            await download(target, session, report)
        state["status"] = "done"
    except (DownloadFailed, aiohttp.ClientError, OSError) as exc:
        state.update(status="error", error=str(exc) or type(exc).__name__)
    hub.send(EVENT, dict(state))


def _model_folder(app: web.Application, directory: str) -> Path:
    try:
        return app[FOLDERS].folders_for(directory)[0]
    except (KeyError, IndexError):
        raise web.HTTPBadRequest(text=f"unknown model folder {directory!r}") from None


@routes.post("/models/download")
@needs_nodes
async def start_download(request: web.Request) -> web.Response:
    """{url, directory, name, sha256?} -> 202 {id} (or 200 when the file is already there); 400 for a URL
    whose host is not among --download-host's (Hugging Face and Civitai by default)."""
    try:
        body = await request.json()
        url, directory, name = str(body["url"]), str(body["directory"]), str(body["name"])
        sha256 = body.get("sha256")
    except (ValueError, KeyError, TypeError):
        raise web.HTTPBadRequest(text="expected JSON {url, directory, name, sha256?}") from None
    folder = _model_folder(request.app, directory)
    try:
        target = make_target(url, folder, name, sha256, request.app[CONFIG].download_hosts)
    except DownloadRefused as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    state = {"id": uuid.uuid4().hex, "url": url, "directory": directory, "name": target.name,
             "downloaded": 0, "total": None, "status": "downloading"}
    if target.path.exists():
        state["status"] = "exists"
        return web.json_response(state)
    busy = [s for s in _states(request.app).values() if s["status"] == "downloading"
            and (s["directory"], s["name"]) == (directory, target.name)]
    if busy:
        return web.json_response(busy[0], status=202)
    _states(request.app)[state["id"]] = state
    task = asyncio.create_task(_run(request.app, state, target))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return web.json_response(state, status=202)


@routes.get("/models/downloads")
async def list_downloads(request: web.Request) -> web.Response:
    return web.json_response(list(_states(request.app).values()))
