"""ComfyUI's `comfy.model_base`: BaseModel and ModelType are Loom's (engine/values/base_model.py, the
`model.model` of every MODEL); SDXL, SD21UNCLIP, Flux, ... are the class names packs test with isinstance,
matching Loom's models by detected family (comfy_compat.family_classes)."""

from __future__ import annotations

from comfy_compat.comfy import model_sampling
from comfy_compat.family_classes import family_class
from engine.values.base_model import BaseModel, ModelType

__all__ = ["BaseModel", "ModelType", "model_sampling"]
_M = "comfy.model_base"
SD21UNCLIP = family_class("SD21UNCLIP", set(), BaseModel, _M)
SDXLRefiner = family_class("SDXLRefiner", {"sdxl_refiner"}, BaseModel, _M)
SDXL = family_class("SDXL", {"sdxl"}, BaseModel, _M)
SVD_img2vid = family_class("SVD_img2vid", {"svd"}, BaseModel, _M)
# Families Loom does not load: the names exist so isinstance checks are simply False.
_OTHERS = ("SDXL_instructpix2pix", "SD_X4Upscaler", "Stable_Zero123", "SVD3D", "StableCascade_C",
           "StableCascade_B", "SD3", "AuraFlow", "StableAudio1", "HunyuanDiT", "PixArt", "Flux", "FluxInpaint",
           "GenmoMochi", "LTXV", "HunyuanVideo", "HunyuanVideoI2V", "HunyuanVideoSkyreelsI2V", "CosmosVideo",
           "Lumina2", "WAN21", "WAN21_Vace", "WAN21_Camera", "WAN22", "Hunyuan3Dv2", "HiDream", "Chroma",
           "ACEStep", "Omnigen2", "QwenImage", "IP2P", "StableAudio", "HunyuanImage21")
globals().update({name: family_class(name, set(), BaseModel, _M) for name in _OTHERS})
