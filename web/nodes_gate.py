"""The middleware between the core routes and what the packs add once the nodes have loaded.

aiohttp freezes an application's routes and middlewares when it starts, and the server starts before
the packs have imported; so the packs' routes, their JS and example folders and their middlewares live
here instead: a request the core routes do not answer waits for the load and is then resolved against
the packs' routes (the core's always win), and a route marked @needs_nodes waits for the load first.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial, update_wrapper
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import StaticResource

from web.nodes_loading import NEEDS_NODES, NodesLoading
from web.routes.pack_content import example_folders
from web.state import ServerConfig

log = logging.getLogger("loom.server")
MAX_REPORTED_PATHS = 1000


class PackRoutes:
    """The routes and middlewares that exist once packs have loaded (empty before)."""

    def __init__(self) -> None:
        self.router = web.UrlDispatcher()
        self.middlewares: tuple[Callable, ...] = ()

    def build(self, config: ServerConfig) -> None:
        """Packs' JS at /extensions/<pack>, their example workflows, the routes and middlewares they
        registered on ComfyUI's PromptServer.instance."""
        from comfy_compat.server import mount_routes, pack_middlewares

        router = web.UrlDispatcher()
        _serve_folders(router, "/extensions",
                       {pack: folder for pack, folder in config.web_extensions.items() if folder.is_dir()})
        _serve_folders(router, "/api/workflow_templates",
                       {pack: folders[0] for pack, folders in example_folders(config.pack_folders).items()})
        mount_routes(router)
        self.router, self.middlewares = router, tuple(pack_middlewares())

    def wrap(self, handler: Handler) -> Handler:
        """`handler` inside the packs' middlewares, the first one outermost (as aiohttp nests them)."""
        for middleware in reversed(self.middlewares):
            handler = update_wrapper(partial(middleware, handler=handler), handler)
        return handler


def _serve_folders(router: web.UrlDispatcher, prefix: str, folders: dict[str, Path]) -> None:
    """GET <prefix>/<pack>/<path>: a file inside folders[pack]. One route matching the packs' names rather
    than aiohttp's add_static per pack, whose prefix is matched percent-encoded against the decoded request
    path: a pack folder named with a space or a non-ASCII letter was never served. Other names under the
    prefix (the editor's own /extensions/core) stay the core routes'."""
    if not folders:
        return
    roots = {pack: folder.resolve() for pack, folder in folders.items()}
    # aiohttp reads {...} in a route as a variable: a name's braces go in as the regex escapes \x7b and \x7d
    names = "|".join(re.escape(pack).replace("{", "x7b").replace("}", "x7d") for pack in sorted(roots))

    async def serve(request: web.Request) -> web.FileResponse:
        root = roots[request.match_info["pack"]]
        path = (root / request.match_info["path"]).resolve()  # symlinks and ".." resolved, then held inside
        if not path.is_relative_to(root) or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    router.add_get(f"{prefix}/{{pack:(?:{names})}}/{{path:.+}}", serve)


def nodes_gate(loading: NodesLoading, packs: PackRoutes) -> Callable:
    """The middleware: waits for the nodes where the answer depends on them, then hands the request to
    the core route, else to a pack's route, else logs (once per path) that nothing serves it."""
    reported: set[str] = set()

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        unmatched = match.http_exception is not None
        if getattr(match.handler, NEEDS_NODES, False):
            await loading.wait()
        elif unmatched:
            await loading.settled()
        if unmatched or (loading.loaded is not None and isinstance(match.route.resource, StaticResource)):
            pack_handler = await _pack_handler(request, packs.router)
            if pack_handler is not None:
                handler = pack_handler
            elif isinstance(match.http_exception, web.HTTPNotFound) and _first_time(request.path, reported):
                log.warning("not served by Loom: %s %s (a route the editor or a client called)",
                            request.method, request.path)
        return await packs.wrap(handler)(request)

    return gate


async def _pack_handler(request: web.Request, router: web.UrlDispatcher) -> Handler | None:
    """The handler of the pack route matching `request`, its path variables put in request.match_info."""
    found = await router.resolve(request)
    if found.http_exception is not None:
        return None
    request.match_info.clear()
    request.match_info.update(found)
    return found.handler


def _first_time(path: str, reported: set[str]) -> bool:
    """Whether `path` is reported now: once per path, for at most MAX_REPORTED_PATHS paths."""
    if path in reported or len(reported) >= MAX_REPORTED_PATHS:
        return False
    reported.add(path)
    return True
