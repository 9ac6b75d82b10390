"""/experiment/models: the model folders and their files with sizes and dates, and each model's
preview picture, for the editor's model library panel (ComfyUI's successor to /models)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
from pathlib import Path

from aiohttp import web

from engine.paths import MODEL_EXTENSIONS, UnsafePath, safe_path_under
from web.nodes_loading import needs_nodes
from web.routes.info import safetensors_metadata
from web.state import FOLDERS

routes = web.RouteTableDef()


@routes.get("/experiment/models")
@needs_nodes
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
@needs_nodes
async def models_in_folder(request: web.Request) -> web.Response:
    """The files of one model kind, folder by folder; 404 for an unknown kind."""
    try:
        folders = request.app[FOLDERS].folders_for(request.match_info["folder"])
    except KeyError:
        raise web.HTTPNotFound(text=f"unknown model folder {request.match_info['folder']!r}") from None

    def scan() -> list[dict]:
        return [item for index, folder in enumerate(folders) for item in _model_files(folder, index)]

    return web.json_response(await asyncio.to_thread(scan))


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def _preview_image(requested: Path) -> bytes | None:
    """The preview of the model named like `requested` (the editor asks for <model stem>.webp) as
    WEBP: <stem>.<image> or <stem>.preview.<image> beside the model, else the first cover image in
    the <stem>.safetensors metadata (ssmd_cover_images); None without one."""
    from PIL import Image

    stem = requested.parent / requested.stem
    candidates = [stem.with_name(stem.name + extra + suffix) for extra in ("", ".preview") for suffix in IMAGE_SUFFIXES]
    found = next((path for path in candidates if path.is_file()), None)
    if found is not None:
        source = io.BytesIO(found.read_bytes())
    else:
        model = stem.with_name(stem.name + ".safetensors")
        metadata = safetensors_metadata(model) if model.is_file() else None
        covers = json.loads((metadata or {}).get("ssmd_cover_images", "[]") or "[]")
        if not covers:
            return None
        source = io.BytesIO(base64.b64decode(covers[0]))
    out = io.BytesIO()
    with Image.open(source) as image:
        image.save(out, format="WEBP")
    return out.getvalue()


@routes.get("/experiment/models/preview/{folder}/{path_index}/{filename:.*}")
@needs_nodes
async def model_preview(request: web.Request) -> web.Response:
    """The preview picture of one model file (folder kind, index of the folder searched, file name)."""
    try:
        folders = request.app[FOLDERS].folders_for(request.match_info["folder"])
        root = folders[int(request.match_info["path_index"])]
        requested = safe_path_under(root, request.match_info["filename"])
    except (KeyError, ValueError, IndexError, UnsafePath):
        raise web.HTTPNotFound(text="no such model folder or file") from None
    try:
        data = await asyncio.to_thread(_preview_image, requested)
    except (OSError, ValueError):
        data = None
    if data is None:
        raise web.HTTPNotFound(text="this model has no preview picture")
    return web.Response(body=data, content_type="image/webp")
