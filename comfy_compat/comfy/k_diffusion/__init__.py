"""ComfyUI's `comfy.k_diffusion` package: `sampling` (Loom's samplers under k-diffusion's names) and `utils`."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
