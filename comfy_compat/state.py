"""What the ComfyUI module shims are bound to: the node registry whose packs are loading, and the server.

ComfyUI's modules are module-level singletons, so packs reach them without arguments; this is the one
place where Loom keeps the matching state. The most recent binding wins (one Loom per process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.graph import context

LOOM_DIR = Path(__file__).resolve().parents[1]

_bound: dict[str, Any] = {"registry": None, "folders": None, "pack_dirs": []}


def bind_registry(registry: Any) -> None:
    """Bind the shims to `registry` (its Services give folders and the model manager)."""
    _bound["registry"] = registry
    _bound["folders"] = getattr(registry.services, "folders", None)


def set_pack_dirs(pack_dirs: Any) -> None:
    """The folders the pack loader imports packs from, in order."""
    _bound["pack_dirs"] = [Path(d).absolute() for d in pack_dirs]


def pack_dirs() -> list[Path]:
    return list(_bound["pack_dirs"])


def registry() -> Any:
    return _bound["registry"]


def services() -> context.Services:
    """The running node's services, else the bound registry's, else empty ones."""
    ctx = context.current()
    if ctx is not None:
        return ctx.services
    reg = _bound["registry"]
    return reg.services if reg is not None else context.Services()


def node_context() -> context.ExecutionContext:
    """The running node's context; outside execution, a detached one over the bound services (no
    progress sink, no interrupt), so pack code called at import or from a route still works."""
    return context.current() or context.ExecutionContext("comfy_compat", "", {}, services=services())


def model_manager() -> Any:
    """The host's model manager; a clear error when the host gave none (headless tools, tests)."""
    manager = services().models
    if manager is None:
        raise RuntimeError("no model manager: Loom's host must pass Services(models=engine.memory.ModelManager())")
    return manager


def folders() -> Any:
    """The Folders in use: the running node's, the bound registry's, or Loom's default folders."""
    found = getattr(services(), "folders", None) or _bound["folders"]
    if found is None:
        from engine.paths import Folders

        found = _bound["folders"] = Folders(LOOM_DIR)
    return found


_server: dict[str, Any] = {"hub": None, "loop": None, "worker": None, "app": None}


def set_server(app: Any, hub: Any, loop: Any, worker: Any) -> None:
    """Called by the web app when it starts: `server.PromptServer.instance` now reaches its websocket hub."""
    _server.update(app=app, hub=hub, loop=loop, worker=worker)


def clear_server(hub: Any) -> None:
    """Called by the web app when it stops (only forgets the server if it is still the bound one)."""
    if _server["hub"] is hub:
        _server.update(app=None, hub=None, loop=None, worker=None)


def server_hub() -> tuple[Any, Any]:
    """(hub, event loop) of the running server, or (None, None)."""
    return _server["hub"], _server["loop"]


def server_worker() -> Any:
    return _server["worker"]


def server_app() -> Any:
    return _server["app"]
