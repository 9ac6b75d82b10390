"""ComfyUI's `comfy.ldm` package: the SD UNet's building blocks, which are Loom's engine.models classes."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
