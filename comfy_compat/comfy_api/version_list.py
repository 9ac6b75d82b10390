"""ComfyUI's `comfy_api.version_list`: the published node API versions, newest first."""

from comfy_compat.comfy_api.latest import ComfyAPI_latest
from comfy_compat.comfy_api.v0_0_1 import ComfyAPIAdapter_v0_0_1
from comfy_compat.comfy_api.v0_0_2 import ComfyAPIAdapter_v0_0_2

supported_versions: list[type] = [ComfyAPI_latest, ComfyAPIAdapter_v0_0_2, ComfyAPIAdapter_v0_0_1]
