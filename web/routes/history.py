"""Finished prompts: list with pagination, one entry, clear or delete."""

from __future__ import annotations

import asyncio

from aiohttp import web

from web import files
from web.openapi import documented
from web.schemas import HistoryEdit, bad_request, parse_body
from web.state import FOLDERS, QUEUE

routes = web.RouteTableDef()


def _int_query(request: web.Request, name: str, default: int | None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request("invalid_query", f"'{name}' must be an integer", f"got {value!r}") from None


@routes.get("/history")
@documented(query={"max_items": "at most this many entries", "offset": "skip this many from the oldest; "
                   "negative (default) = the last max_items"})
async def get_history(request: web.Request) -> web.Response:
    """History entries, oldest first: {prompt_id: {prompt, outputs, status, meta}}."""
    max_items = _int_query(request, "max_items", None)
    offset = _int_query(request, "offset", -1)
    return web.json_response(request.app[QUEUE].history(max_items, offset))


@routes.get("/history/{prompt_id}")
async def get_history_entry(request: web.Request) -> web.Response:
    """One history entry as {prompt_id: entry}; {} while it is queued or unknown (see /queue)."""
    prompt_id = request.match_info["prompt_id"]
    entry = request.app[QUEUE].history_entry(prompt_id)
    return web.json_response({prompt_id: entry} if entry is not None else {})


@routes.post("/history")
@documented(request=HistoryEdit)
async def edit_history(request: web.Request) -> web.Response:
    """Clear the history and/or delete entries by id (with delete_files: their output files too)."""
    body = await parse_body(request, HistoryEdit)
    queue = request.app[QUEUE]
    answer = {"deleted_files": await _delete_files(request.app, body)} if body.delete_files else {}
    if body.clear:
        queue.clear_history()
    if body.delete:
        queue.delete_history(body.delete)
    return web.json_response(answer)


async def _delete_files(app: web.Application, body: HistoryEdit) -> int:
    """Delete the output/temp files of the entries `body` removes; how many were deleted."""
    queue = app[QUEUE]
    if body.clear:
        entries = list(queue.history().values())
    else:
        entries = [e for e in map(queue.history_entry, body.delete) if e is not None]
    return await asyncio.to_thread(files.delete_output_files, app[FOLDERS], entries)
