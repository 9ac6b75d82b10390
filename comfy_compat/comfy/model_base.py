"""ComfyUI's `comfy.model_base`: the model class names packs test with isinstance (BaseModel, SDXL, ...),
matching Loom's MODEL values by detected family (comfy_compat.family_classes), and ModelType."""

from __future__ import annotations

import enum

from comfy_compat.family_classes import family_class

_M = "comfy.model_base"


class ModelType(enum.Enum):
    EPS = 1
    V_PREDICTION = 2
    V_PREDICTION_EDM = 3
    STABLE_CASCADE = 4
    EDM = 5
    FLOW = 6
    V_PREDICTION_CONTINUOUS = 7
    FLUX = 8
    IMG_TO_IMG = 9
    FLOW_COSMOS = 10


BaseModel = family_class("BaseModel", {"sd1", "sd2", "sdxl", "sdxl_refiner", "svd"}, module=_M)
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
