"""ComfyUI's `comfy_api.latest._input_impl`: the concrete VIDEO values (Loom's own, loaded on first use)."""

from __future__ import annotations

from typing import Any

_NAMES = ("VideoFromComponents", "VideoFromFile")


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        import nodes.video_values

        return getattr(nodes.video_values, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = list(_NAMES)
