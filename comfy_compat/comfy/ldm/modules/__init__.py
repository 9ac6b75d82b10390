"""ComfyUI's `comfy.ldm.modules`: attention and the diffusion-model blocks (Loom's engine.models)."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
