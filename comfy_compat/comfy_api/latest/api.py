"""ComfyUI's `ComfyAPI` (async) and `ComfyAPISync` helpers a node calls while it runs, and the
`ComfyExtension` a V3 pack's `comfy_entrypoint()` returns.

`api.execution.set_progress(value, max_value)` reports progress for the running node through Loom's
execution context, the same path a V1 ProgressBar takes.
"""

from __future__ import annotations

import inspect
from typing import Any

from engine.graph import context
from engine.graph.validation import resolve_sync


def _preview_tuple(preview: Any, ignore_size_limit: bool) -> Any:
    """A PIL image or an IMAGE tensor as the (format, image, max_size) preview the progress event carries."""
    if preview is None:
        return None
    if hasattr(preview, "shape"):  # an IMAGE tensor: its first image
        from comfy_compat.comfy_api.latest.ui import ImageSaveHelper

        preview = ImageSaveHelper.to_pil(preview[0] if len(preview.shape) == 4 else preview)
    return (getattr(preview, "format", None) or "JPEG", preview, None if ignore_size_limit else 512)


class ComfyAPI:
    """The async node API (version "latest")."""

    VERSION = "latest"
    STABLE = False

    class Execution:
        """Reporting from inside a running node."""

        async def set_progress(self, value: float, max_value: float, node_id: str | None = None,
                               preview_image: Any = None, ignore_size_limit: bool = False) -> None:
            """Update the running node's progress bar (and preview image)."""
            ctx = context.current()
            if ctx is None:
                raise ValueError("set_progress: no node is running in this task; call it from a node's execute")
            if node_id is not None and node_id != ctx.node_id:
                raise ValueError(f"set_progress: node {node_id!r} is not the running node {ctx.node_id!r}")
            ctx.progress(value, max_value, _preview_tuple(preview_image, ignore_size_limit))

    def __init__(self) -> None:
        self.execution = self.Execution()


class _SyncView:
    """An API object whose coroutine methods run to completion when called."""

    def __init__(self, target: Any):
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return lambda *args, **kwargs: resolve_sync(value(*args, **kwargs))
        if hasattr(value, "__dict__") and not callable(value):
            return _SyncView(value)
        return value


def sync_api(api_class: type) -> type:
    """The synchronous twin of an async API class (ComfyAPISync for ComfyAPI)."""

    class SyncAPI:
        VERSION = api_class.VERSION
        STABLE = api_class.STABLE

        def __init__(self) -> None:
            async_api = api_class()
            for name, value in vars(async_api).items():
                setattr(self, name, _SyncView(value))

    SyncAPI.__name__ = SyncAPI.__qualname__ = f"{api_class.__name__}Sync"
    return SyncAPI


ComfyAPISync = sync_api(ComfyAPI)


class ComfyExtension:
    """What a V3 pack's `comfy_entrypoint()` returns: `get_node_list()` gives its ComfyNode classes."""

    async def on_load(self) -> None:
        """Called once before get_node_list(); set up shared resources here."""

    async def get_node_list(self) -> list[type]:
        raise NotImplementedError(f"{type(self).__name__} must define get_node_list()")


def pinned_api(base: type, version: str, stable: bool) -> tuple[type, type]:
    """(async, sync) API classes for one published version, derived from `base`."""
    pinned = type(f"ComfyAPIAdapter_v{version.replace('.', '_')}", (base,), {"VERSION": version, "STABLE": stable})
    return pinned, sync_api(pinned)
