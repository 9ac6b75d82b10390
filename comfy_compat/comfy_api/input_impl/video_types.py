"""ComfyUI's `comfy_api.input_impl.video_types`: VideoFromFile and VideoFromComponents (Loom's)."""

from comfy_compat.comfy_api.latest._input_impl import __all__, __getattr__  # noqa: F401 - lazy names
