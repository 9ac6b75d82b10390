"""ComfyUI's `comfy.latent_formats`: the latent format classes of the families Loom loads (Loom's
engine.values.base_model.LatentFormat: scale factor and preview factors), by ComfyUI's names."""

from __future__ import annotations

from engine.values.base_model import LatentFormat

__all__ = ["SD15", "SDXL", "LatentFormat", "SDXL_Playground_2_5"]


class SD15(LatentFormat):
    def __init__(self, scale_factor: float = 0.18215):
        super().__init__(scale_factor, "sd1")


class SDXL(LatentFormat):
    def __init__(self, scale_factor: float = 0.13025):
        super().__init__(scale_factor, "sdxl")


class SDXL_Playground_2_5(SDXL):
    """Playground 2.5 (an SDXL latent space with its own normalisation Loom does not apply)."""
