"""/users and /userdata: the files ComfyUI's editor stores per user (saved workflows, subgraphs,
user.css), with ComfyUI's query options and status codes (400 missing name, 403 a path that
leaves the user's folder, 404 missing, 409 overwrite=false on an existing file).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from engine.paths import UnsafePath
from web.state import FOLDERS
from web.user_files import DEFAULT_USER, FileConflict, UserFolders

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


def user_folders(request: web.Request) -> UserFolders:
    return UserFolders(request.app[FOLDERS].user_dir)


def _flag(request: web.Request, name: str, default: str = "") -> bool:
    return request.query.get(name, default).lower() == "true"


def _checked_path(request: web.Request, relative: str | None) -> Path:
    """The user's path for `relative`: 400 when absent, 403 when it would leave the user's folder."""
    if not relative:
        raise web.HTTPBadRequest(text="file name not provided")
    try:
        return user_folders(request).path(relative)
    except UnsafePath as exc:
        raise web.HTTPForbidden(text=f"refused: {exc}") from None


def _answer(request: web.Request, path: Path) -> web.Response:
    """The written file as ComfyUI answers it: its relative path, or {path, size, modified, created}."""
    folders = user_folders(request)
    if _flag(request, "full_info"):
        return web.json_response(folders.file_info(path, folders.user_root()))
    return web.json_response(folders.relative(path))


@routes.get("/users")
async def users(request: web.Request) -> web.Response:
    """Single-user mode: settings and workflows live on the server; `migrated` once the folder exists."""
    migrated = (request.app[FOLDERS].user_dir / DEFAULT_USER).is_dir()
    return web.json_response({"storage": "server", "migrated": migrated})


@routes.post("/users")
async def add_user(request: web.Request) -> web.Response:
    """Loom serves one user (ComfyUI without --multi-user); new users are refused."""
    return web.json_response({"error": "this server has a single user; profiles cannot be added"}, status=400)


@routes.get("/userdata")
async def list_userdata(request: web.Request) -> web.Response:
    """Files under ?dir= (recurse, full_info, split as in ComfyUI); 404 when the folder is missing."""
    folder = _checked_path(request, request.query.get("dir", ""))
    if not folder.is_dir():
        raise web.HTTPNotFound(text="directory not found")
    files = await asyncio.to_thread(user_folders(request).list_files, folder, _flag(request, "recurse"))
    if _flag(request, "full_info"):
        return web.json_response([user_folders(request).file_info(path, folder) for path in files])
    names = [path.relative_to(folder).as_posix() for path in files]
    if _flag(request, "split"):
        return web.json_response([[name, *name.split("/")] for name in names])
    return web.json_response(names)


@routes.get("/v2/userdata")
async def list_userdata_v2(request: web.Request) -> web.Response:
    """Folders first, then files, under ?path= (default the user's root), each with its path from the root."""
    folders = user_folders(request)
    root = folders.user_root()
    relative = request.query.get("path", "")
    target = _checked_path(request, relative) if relative.strip("/") else root
    if not target.exists():
        raise web.HTTPNotFound(text="requested path not found")
    if not target.is_dir():
        raise web.HTTPBadRequest(text="requested path is not a directory")
    entries = []
    for path in sorted(target.rglob("*")):
        entry = {"name": path.name, "path": path.relative_to(root).as_posix()}
        if path.is_dir():
            entries.append({**entry, "type": "directory"})
        else:
            stat = path.stat()
            entries.append({**entry, "type": "file", "size": stat.st_size, "modified": stat.st_mtime})
    entries.sort(key=lambda e: (e["type"] != "directory", e["name"].lower()))
    return web.json_response(entries)


@routes.get("/userdata/{file}")
async def get_userdata(request: web.Request) -> web.StreamResponse:
    path = _checked_path(request, request.match_info["file"])
    if not path.is_file():
        raise web.HTTPNotFound(text="file not found")
    return web.FileResponse(path)


@routes.post("/userdata/{file}")
async def post_userdata(request: web.Request) -> web.Response:
    """Store the request body; ?overwrite=false answers 409 when the file exists."""
    path = _checked_path(request, request.match_info["file"])
    overwrite = request.query.get("overwrite", "true") != "false"
    body = await request.read()
    try:
        await asyncio.to_thread(user_folders(request).write, path, body, overwrite)
    except FileConflict:
        raise web.HTTPConflict(text="file already exists") from None
    except IsADirectoryError:
        raise web.HTTPBadRequest(text="a folder has that name") from None
    return _answer(request, path)


@routes.delete("/userdata/{file}")
async def delete_userdata(request: web.Request) -> web.Response:
    path = _checked_path(request, request.match_info["file"])
    if not path.exists():
        raise web.HTTPNotFound(text="file not found")
    if path.is_dir():
        raise web.HTTPBadRequest(text="a folder cannot be deleted here")
    await asyncio.to_thread(path.unlink)
    return web.Response(status=204)


@routes.post("/userdata/{file}/move/{dest}")
async def move_userdata(request: web.Request) -> web.Response:
    """Rename a file; 404 when it is missing, 409 with ?overwrite=false when the destination exists."""
    source = _checked_path(request, request.match_info["file"])
    dest = _checked_path(request, request.match_info["dest"])
    if not source.exists():
        raise web.HTTPNotFound(text="file not found")
    overwrite = request.query.get("overwrite", "true") != "false"
    try:
        await asyncio.to_thread(user_folders(request).move, source, dest, overwrite)
    except FileConflict:
        raise web.HTTPConflict(text="file already exists") from None
    log.info("moved user file %s -> %s", source.name, dest.name)
    return _answer(request, dest)
