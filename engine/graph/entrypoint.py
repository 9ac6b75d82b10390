"""ComfyUI's V3 pack entry point: a module's `comfy_entrypoint()` (sync or async) returns an extension whose
`on_load()` runs once and whose `get_node_list()` gives the pack's node classes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.graph.validation import resolve_sync


def extension_nodes(entrypoint: Callable[[], Any]) -> list[type]:
    """The node classes a `comfy_entrypoint` provides."""
    if not callable(entrypoint):
        raise TypeError(f"comfy_entrypoint must be a function, got {type(entrypoint).__name__}")
    extension = resolve_sync(entrypoint())
    if not callable(getattr(extension, "get_node_list", None)):
        raise TypeError(f"comfy_entrypoint() returned {type(extension).__name__}, which has no get_node_list()")
    on_load = getattr(extension, "on_load", None)
    if callable(on_load):
        resolve_sync(on_load())
    return list(resolve_sync(extension.get_node_list()) or ())
