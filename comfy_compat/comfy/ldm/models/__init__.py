"""ComfyUI's `comfy.ldm.models`: `autoencoder` (Loom's engine.models.vae)."""

from comfy_compat.lazy_package import submodule_getattr

__getattr__ = submodule_getattr(__name__)
