"""ComfyUI's `comfy_api.input.video_types`: VideoInput, the base of VIDEO values (Loom's Video)."""

from comfy_compat.comfy_api.latest._input import __getattr__  # noqa: F401 - VideoInput loads on first use

__all__ = ["VideoInput"]  # noqa: F822 - lazy name
