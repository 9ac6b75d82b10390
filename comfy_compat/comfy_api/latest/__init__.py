"""ComfyUI's `comfy_api.latest`: the V3 node API (`io`, `ui`), the `ComfyAPI`/`ComfyAPISync` helpers and
`ComfyExtension`, the object a V3 pack's `comfy_entrypoint()` returns."""

from comfy_compat.comfy_api.latest import io, ui
from comfy_compat.comfy_api.latest.api import ComfyAPI, ComfyAPISync, ComfyExtension

ComfyAPI_latest = ComfyAPI
IO = io
UI = ui

__all__ = ["IO", "UI", "ComfyAPI", "ComfyAPISync", "ComfyAPI_latest", "ComfyExtension", "io", "ui"]
