"""HTTP routes, registered at import time on PromptServer.instance.routes as ComfyUI packs do."""

import folder_paths
from aiohttp import web
from server import PromptServer

routes = PromptServer.instance.routes


@routes.get("/compat_pack/models")
async def list_models(request):
    return web.json_response({"checkpoints": folder_paths.get_filename_list("checkpoints")})


@routes.post("/compat_pack/ping")
async def ping(request):
    body = await request.json()
    PromptServer.instance.send_sync("compat_pack.pong", {"echo": body.get("text")})
    return web.json_response({"sent": True})


ROUTES_ADDED = True
