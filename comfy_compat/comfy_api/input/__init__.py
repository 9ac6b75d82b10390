"""ComfyUI's `comfy_api.input` (kept by ComfyUI for older packs): the V3 input value types."""

from comfy_compat.comfy_api.latest._input import AudioInput, LatentInput, __getattr__  # noqa: F401 - lazy names

__all__ = ["AudioInput", "ImageInput", "LatentInput", "MaskInput", "VideoInput"]
