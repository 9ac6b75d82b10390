"""The queue: list, clear or delete pending prompts, interrupt the running one, free memory."""

from __future__ import annotations

from aiohttp import web

from web.openapi import documented
from web.schemas import FreeRequest, InterruptRequest, QueueEdit, QueueResponse, parse_body
from web.state import QUEUE, WORKER

routes = web.RouteTableDef()


@routes.get("/queue")
@documented(response=QueueResponse)
async def get_queue(request: web.Request) -> web.Response:
    """Running and pending prompts as (number, prompt_id, prompt, extra_data, outputs); no secrets."""
    queue = request.app[QUEUE]
    return web.json_response({"queue_running": [i.as_list() for i in queue.running()],
                              "queue_pending": [i.as_list() for i in queue.pending()], "paused": queue.paused})


@routes.post("/queue")
@documented(request=QueueEdit)
async def edit_queue(request: web.Request) -> web.Response:
    """Clear the pending prompts and/or delete some by id (running prompts are interrupted instead);
    pause or resume the queue."""
    body = await parse_body(request, QueueEdit)
    queue = request.app[QUEUE]
    if body.pause is not None:
        queue.set_paused(body.pause)
    if body.clear:
        queue.clear()
    if body.delete:
        queue.delete(body.delete)
    request.app[WORKER].broadcast_status()
    return web.Response()


@routes.post("/interrupt")
@documented(request=InterruptRequest)
async def interrupt(request: web.Request) -> web.Response:
    """Interrupt the running prompt, or only `prompt_id` (a pending one is cancelled)."""
    body = await parse_body(request, InterruptRequest)
    outcome = request.app[WORKER].interrupt(body.prompt_id)
    return web.json_response({"result": outcome})


@routes.post("/free")
@documented(request=FreeRequest)
async def free(request: web.Request) -> web.Response:
    """Drop cached outputs (free_memory) and unload models (unload_models) between prompts."""
    body = await parse_body(request, FreeRequest)
    request.app[WORKER].request_free(body.unload_models, body.free_memory)
    return web.Response()
