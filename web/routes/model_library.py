"""/experiment/models: the model folders and their files with sizes and dates, for the editor's
model library panel (ComfyUI's successor to /models)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from aiohttp import web

from engine.paths import MODEL_EXTENSIONS
from web.state import FOLDERS

routes = web.RouteTableDef()


@routes.get("/experiment/models")
async def model_folders(request: web.Request) -> web.Response:
    """[{name: kind, folders: [paths searched]}] for every model kind."""
    kinds = request.app[FOLDERS].model_folders
    return web.json_response([{"name": kind, "folders": [str(p) for p in paths]} for kind, paths in kinds.items()])


def _model_files(folder: Path, index: int) -> list[dict]:
    """Model files under `folder` (hidden ones skipped) as {name, pathIndex, modified, created, size}."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not name.lower().endswith(MODEL_EXTENSIONS):
                continue
            path = Path(dirpath) / name
            stat = path.stat()
            found.append({"name": path.relative_to(folder).as_posix(), "pathIndex": index,
                          "modified": stat.st_mtime, "created": stat.st_ctime, "size": stat.st_size})
    return found


@routes.get("/experiment/models/{folder}")
async def models_in_folder(request: web.Request) -> web.Response:
    """The files of one model kind, folder by folder; 404 for an unknown kind."""
    try:
        folders = request.app[FOLDERS].folders_for(request.match_info["folder"])
    except KeyError:
        raise web.HTTPNotFound(text=f"unknown model folder {request.match_info['folder']!r}") from None

    def scan() -> list[dict]:
        return [item for index, folder in enumerate(folders) for item in _model_files(folder, index)]

    return web.json_response(await asyncio.to_thread(scan))
