"""What ComfyUI's own editor needs from Loom beyond the core API: its static build at `/` when
`--front-end comfyui` is chosen, the official templates (/templates) and node docs (/docs) from
their packages, per-user settings and logs (packs' example workflows and the log line for each
route nobody serves are in web/nodes_gate.py).

The three packages come with the optional extra `loom-diffusion[comfyui-frontend]`, pinned to
the versions ComfyUI 0.3.64 pins.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from web.comfy_packages import EXTRA_HINT, package_folder
from web.log_buffer import LogBuffer
from web.routes.internal import LOGS
from web.routes.settings import SETTINGS
from web.state import CONFIG, HUB, ServerConfig
from web.user_files import UserFolders
from web.user_settings import UserSettings

log = logging.getLogger("loom.server")


def comfyui_static_dir() -> Path:
    """The static build of the `comfyui-frontend-package`; FileNotFoundError with the install hint."""
    static = package_folder("comfyui_frontend_package", "static")
    if static is None or not (static / "index.html").is_file():
        raise FileNotFoundError(f"--front-end comfyui needs the ComfyUI frontend package: {EXTRA_HINT}")
    return static


async def _empty_stylesheet(request: web.Request) -> web.Response:
    """The editor links /user.css; a user's own CSS lives in their folder (/api/userdata/user.css)."""
    return web.Response(text="", content_type="text/css")


def _send(path: Path):
    async def send_file(request: web.Request) -> web.FileResponse:
        return web.FileResponse(path)

    return send_file


def _add_static_folders(app: web.Application, config: ServerConfig) -> None:
    templates = package_folder("comfyui_workflow_templates", "templates")
    if templates is not None:
        app.router.add_static("/templates", templates, follow_symlinks=False)
    docs = package_folder("comfyui_embedded_docs", "docs")
    if docs is not None:
        app.router.add_static("/docs", docs, follow_symlinks=False)
    app.router.add_get("/user.css", _empty_stylesheet)
    icon = config.static_dir / "assets" / "favicon.ico"  # where ComfyUI's build keeps it
    if icon.is_file() and not (config.static_dir / "favicon.ico").exists():
        app.router.add_get("/favicon.ico", _send(icon))


async def _log_buffer(app: web.Application) -> AsyncIterator[None]:
    """Capture the server's log lines while the app runs; subscribers get them over the websocket."""
    buffer = app[LOGS]
    buffer.forward_to(asyncio.get_running_loop(), app[HUB].send)
    logging.getLogger().addHandler(buffer)
    yield
    logging.getLogger().removeHandler(buffer)
    buffer.forward_to(None, app[HUB].send)


def attach(app: web.Application) -> None:
    """Give `app` the state, static folders and middleware the editor's routes need (before it starts)."""
    config = app[CONFIG]
    app[SETTINGS] = UserSettings(UserFolders(config.folders.user_dir))
    app[LOGS] = LogBuffer()
    _add_static_folders(app, config)
    app.cleanup_ctx.append(_log_buffer)
