"""ComfyUI's `comfy` package, over Loom's engine: each submodule here stands for ComfyUI's module of that
name. A submodule is also reachable as an attribute of the package (`import comfy; comfy.sd1_clip`), as
in ComfyUI where importing one module imports many; a name with no module here is an AttributeError.
"""

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"module 'comfy' has no attribute {name!r} (no such module in Loom's comfy_compat)") from None
