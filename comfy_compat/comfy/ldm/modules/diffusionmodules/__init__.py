"""ComfyUI's `comfy.ldm.modules.diffusionmodules`: openaimodel (the UNet) and util, over Loom's engine.models."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
