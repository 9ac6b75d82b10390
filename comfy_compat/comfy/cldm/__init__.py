"""ComfyUI's `comfy.cldm` package: `cldm.ControlNet`, the ControlNet network (Loom's engine.models.controlnet)."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
