"""Finished prompts: list with pagination, one entry, clear or delete."""

from __future__ import annotations

from aiohttp import web

from web.openapi import documented
from web.schemas import QueueEdit, bad_request, parse_body
from web.state import QUEUE

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
@documented(request=QueueEdit)
async def edit_history(request: web.Request) -> web.Response:
    """Clear the history and/or delete entries by id."""
    body = await parse_body(request, QueueEdit)
    queue = request.app[QUEUE]
    if body.clear:
        queue.clear_history()
    if body.delete:
        queue.delete_history(body.delete)
    return web.Response()
