"""ComfyUI's `comfy` package, over Loom's engine: each submodule here stands for ComfyUI's module of that
name, and is reachable as an attribute of the package too (comfy_compat.lazy_package)."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
