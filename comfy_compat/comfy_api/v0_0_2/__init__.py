"""ComfyUI's `comfy_api.v0_0_2`: the V3 node API pinned at version 0.0.2 (the same objects as `latest`)."""

from comfy_compat.comfy_api.latest import (
    ComfyAPI_latest,
    ComfyExtension,
    __getattr__,  # noqa: F401 - Input, InputImpl, Types load on use
    io,
    ui,
)
from comfy_compat.comfy_api.latest.api import pinned_api

ComfyAPIAdapter_v0_0_2, ComfyAPISync = pinned_api(ComfyAPI_latest, "0.0.2", stable=False)
ComfyAPI = ComfyAPIAdapter_v0_0_2

__all__ = ["ComfyAPI", "ComfyAPIAdapter_v0_0_2", "ComfyAPISync", "ComfyExtension", "Input", "InputImpl", "Types", "io", "ui"]
