"""ComfyUI's `comfy_api.v0_0_1`: the first stable version of the node API helpers (ComfyAPI, ComfyAPISync)."""

from comfy_compat.comfy_api.latest import (
    ComfyExtension,
    __getattr__,  # noqa: F401 - Input, InputImpl, Types load on use
)
from comfy_compat.comfy_api.latest.api import pinned_api
from comfy_compat.comfy_api.v0_0_2 import ComfyAPIAdapter_v0_0_2

ComfyAPIAdapter_v0_0_1, ComfyAPISync = pinned_api(ComfyAPIAdapter_v0_0_2, "0.0.1", stable=True)
ComfyAPI = ComfyAPIAdapter_v0_0_1

__all__ = ["ComfyAPI", "ComfyAPIAdapter_v0_0_1", "ComfyAPISync", "ComfyExtension", "Input", "InputImpl", "Types"]
