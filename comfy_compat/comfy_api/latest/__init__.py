"""ComfyUI's `comfy_api.latest`: the V3 node API (`io`, `ui`), the `ComfyAPI`/`ComfyAPISync` helpers,
`ComfyExtension` (what a V3 pack's `comfy_entrypoint()` returns) and the `Input`/`InputImpl`/`Types`
value namespaces (loaded on first use: they need torch and PyAV)."""

from typing import Any

from comfy_compat.comfy_api.latest import io, ui
from comfy_compat.comfy_api.latest.api import ComfyAPI, ComfyAPISync, ComfyExtension

ComfyAPI_latest = ComfyAPI
IO = io
UI = ui


def __getattr__(name: str) -> Any:
    if name in ("Input", "InputImpl", "Types"):
        from comfy_compat.comfy_api.latest import value_types

        return getattr(value_types, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["IO", "UI", "ComfyAPI", "ComfyAPISync", "ComfyAPI_latest", "ComfyExtension", "Input",
           "InputImpl", "Types", "io", "ui"]
