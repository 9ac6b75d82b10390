"""Submodules reachable as package attributes, as in ComfyUI where importing one module imports many
(`import comfy; comfy.sd1_clip.SD1ClipModel` works there once anything imported comfy.sd)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def submodule_getattr(package: str) -> Callable[[str], Any]:
    """A module `__getattr__` for `package` that imports `package.<name>` on first access."""
    def get(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {package.removeprefix('comfy_compat.')!r} has no attribute {name!r} "
                                 "(no such module in Loom's comfy_compat)") from None

    return get
