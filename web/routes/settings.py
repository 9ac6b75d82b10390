"""/settings and /settings/{id}: the editor's settings of the (single) user, kept on the server."""

from __future__ import annotations

import asyncio

from aiohttp import web

from web.user_settings import UserSettings

routes = web.RouteTableDef()
SETTINGS = web.AppKey("user_settings", UserSettings)


async def _json_body(request: web.Request):
    try:
        return await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None


@routes.get("/settings")
async def get_settings(request: web.Request) -> web.Response:
    """Every stored setting as one object ({} before the first change)."""
    return web.json_response(await asyncio.to_thread(request.app[SETTINGS].read))


@routes.get("/settings/{id}")
async def get_setting(request: web.Request) -> web.Response:
    """One setting's value; null when it was never set."""
    settings = await asyncio.to_thread(request.app[SETTINGS].read)
    return web.json_response(settings.get(request.match_info["id"]))


@routes.post("/settings")
async def post_settings(request: web.Request) -> web.Response:
    """Merge a JSON object of settings into the stored ones."""
    changes = await _json_body(request)
    if not isinstance(changes, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object of setting id -> value")
    await asyncio.to_thread(request.app[SETTINGS].update, changes)
    return web.Response()


@routes.post("/settings/{id}")
async def post_setting(request: web.Request) -> web.Response:
    """Set one setting to the JSON value in the body."""
    value = await _json_body(request)
    await asyncio.to_thread(request.app[SETTINGS].update, {request.match_info["id"]: value})
    return web.Response()
