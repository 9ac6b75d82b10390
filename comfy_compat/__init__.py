"""A small ComfyUI compatibility layer: the ComfyUI modules most node packs import, backed by Loom's objects.

`install(registry)` (called by the pack loader before packs import) puts each shim into sys.modules
under its ComfyUI name, unless a real module of that name is importable. Torch-free to install.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

from comfy_compat import state
from comfy_compat.state import clear_server, set_server

__all__ = ["EMULATED", "clear_server", "install", "missing_module_hint", "set_server"]

# ComfyUI module name -> the Loom module standing in for it.
EMULATED: dict[str, str] = {
    "folder_paths": "comfy_compat.folder_paths",
    "comfy": "comfy_compat.comfy",
    "comfy.utils": "comfy_compat.comfy.utils",
    "comfy.model_management": "comfy_compat.comfy.model_management",
    "server": "comfy_compat.server",
    "comfy_execution": "comfy_compat.comfy_execution",
    "comfy_execution.graph_utils": "comfy_compat.comfy_execution.graph_utils",
    "comfy_execution.graph": "comfy_compat.comfy_execution.graph",
    "node_helpers": "comfy_compat.node_helpers",
}


def _real_module_exists(top: str) -> bool:
    """Whether `top` is already loaded or importable from something other than this layer. A bare
    folder of that name on sys.path (a namespace package, e.g. tests/server) is not a module."""
    existing = sys.modules.get(top)
    if existing is not None:
        return not getattr(existing, "__name__", "").startswith("comfy_compat") and (
            getattr(existing, "__file__", None) is not None)
    spec = importlib.util.find_spec(top)
    return spec is not None and spec.origin is not None


def install(registry: Any = None) -> list[str]:
    """Bind the shims to `registry` and register them under their ComfyUI names; returns the names
    provided by this layer (a name with a real module of its own is left alone, with its submodules)."""
    if registry is not None:
        state.bind_registry(registry)
    provided = []
    real = {top for top in {n.split(".")[0] for n in EMULATED} if _real_module_exists(top)}
    for name, target in EMULATED.items():
        if name.split(".")[0] in real:
            continue
        module = importlib.import_module(target)
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
        provided.append(name)
    return provided


def missing_module_hint(exc: BaseException) -> str | None:
    """For a pack that failed on a ComfyUI module this layer does not emulate, a line saying so."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) or not name:
        return None
    tops = {n.split(".")[0] for n in EMULATED} | {"comfy_api", "comfy_extras", "nodes", "execution", "latent_preview"}
    if name.split(".")[0] not in tops or name in EMULATED:
        return None
    return (f"ComfyUI module {name!r} is not provided by Loom; its compatibility layer emulates only "
            f"{', '.join(EMULATED)}")
