"""GET/DELETE /view and POST /upload/image, /upload/mask: files in the input/output/temp folders."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from aiohttp import web

from web import files
from web.openapi import documented
from web.schemas import DeletedResponse, FileRef, OriginalRef, bad_request, parse_model
from web.state import FOLDERS

routes = web.RouteTableDef()

FILE_QUERY = {"filename": "file name, may end in ' [input]' / ' [output]' / ' [temp]'",
              "type": "input, output (default) or temp", "subfolder": "folder under the root"}


def _existing_file(request: web.Request) -> tuple[Path, FileRef]:
    """The checked path the query names and its reference; 404 when no such file exists."""
    filename, type_ = files.split_annotated(request.query.get("filename", ""), request.query.get("type"))
    subfolder = request.query.get("subfolder", "")
    path = files.resolve(request.app[FOLDERS], type_, subfolder, filename)
    if not path.is_file():
        raise web.HTTPNotFound(text=f"{type_} file {filename!r} not found")
    return path, FileRef(name=filename, subfolder=subfolder, type=type_)


@routes.get("/view")
@documented(query={**FILE_QUERY, "preview": "re-encode: 'webp;90', 'jpeg;80' or 'png'",
                   "channel": "rgba (default), rgb or a"})
async def view(request: web.Request) -> web.StreamResponse:
    """A file's bytes; media types inline, anything else as an opaque download."""
    path, _ = _existing_file(request)
    converted = await asyncio.to_thread(files.preview_bytes, path, request.query.get("preview"),
                                        request.query.get("channel", "rgba"))
    headers = {"Content-Disposition": f'filename="{path.name}"', "X-Content-Type-Options": "nosniff"}
    if converted is not None:
        data, ctype = converted
        return web.Response(body=data, content_type=ctype, headers=headers)
    return web.FileResponse(path, headers={**headers, "Content-Type": files.content_type(path)})


@routes.delete("/view")
@documented(response=DeletedResponse, query=FILE_QUERY)
async def delete_file(request: web.Request) -> web.Response:
    """Delete an output, temp file or upload (same path checks as viewing)."""
    path, ref = _existing_file(request)
    path.unlink()
    return web.json_response(DeletedResponse(deleted=ref).model_dump())


async def _read_upload(request: web.Request) -> tuple[bytes, str, dict]:
    try:
        form = await request.post()
    except web.HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever aiohttp's multipart parser raises on a client's bytes
        raise bad_request("invalid_request", "Malformed multipart body", f"{type(exc).__name__}: {exc}") from None
    upload = form.get("image")
    if not isinstance(upload, web.FileField):
        raise bad_request("invalid_request", "multipart field 'image' (a file) is required")
    data = upload.file.read()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return data, upload.filename or "", fields


async def _store(request: web.Request, data: bytes, filename: str, fields: dict) -> web.Response:
    type_, subfolder = fields.get("type") or "input", fields.get("subfolder", "")
    path = files.resolve(request.app[FOLDERS], type_, subfolder, filename)
    overwrite = fields.get("overwrite", "").lower() in ("true", "1")
    target, write = files.unique_target(path, data, overwrite)
    if write:
        await asyncio.to_thread(files.write_atomic, target, data)
    return web.json_response(FileRef(name=target.name, subfolder=subfolder, type=type_).model_dump())


@routes.post("/upload/image")
@documented(response=FileRef, multipart={"image": "the file", "type": "input (default), output or temp",
                                         "subfolder": "folder under the root", "overwrite": "true to replace"})
async def upload_image(request: web.Request) -> web.Response:
    """Store an uploaded image (or audio/video); a different file with the same name gets 'name (n)'."""
    data, filename, fields = await _read_upload(request)
    await asyncio.to_thread(files.check_upload, data, filename)
    return await _store(request, data, filename, fields)


@routes.post("/upload/mask")
@documented(response=FileRef, multipart={"image": "the mask (its alpha is used)",
                                         "original_ref": "JSON {filename, type, subfolder} of the image to mask",
                                         "type": "input (default)", "subfolder": "", "overwrite": ""})
async def upload_mask(request: web.Request) -> web.Response:
    """Composite the mask's alpha into the referenced image and store the result."""
    data, filename, fields = await _read_upload(request)
    try:
        ref = parse_model(OriginalRef, json.loads(fields.get("original_ref") or "null"))
    except json.JSONDecodeError as exc:
        raise bad_request("invalid_request", "original_ref must be JSON", str(exc)) from None
    name, type_ = files.split_annotated(ref.filename, ref.type)
    original = files.resolve(request.app[FOLDERS], type_, ref.subfolder, name)
    if not original.is_file():
        raise web.HTTPNotFound(text=f"original image {ref.filename!r} not found")
    await asyncio.to_thread(files.check_upload, data, filename)
    composite = await asyncio.to_thread(files.composite_mask, original, data)
    return await _store(request, composite, filename, fields)
