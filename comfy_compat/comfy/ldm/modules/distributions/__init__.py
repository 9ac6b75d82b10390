"""ComfyUI's `comfy.ldm.modules.distributions`: the VAE's diagonal Gaussian posterior."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
