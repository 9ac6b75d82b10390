"""ComfyUI's `comfy.supported_models`: the model-family classes packs test with isinstance, matching Loom's
MODEL values by detected family (comfy_compat.family_classes), and `models`, the list of them."""

from __future__ import annotations

from comfy_compat.comfy import supported_models_base  # noqa: F401 - reachable from here in ComfyUI too
from comfy_compat.comfy.supported_models_base import BASE
from comfy_compat.family_classes import family_class

_M = "comfy.supported_models"
SD15 = family_class("SD15", {"sd1"}, BASE, _M)
SD20 = family_class("SD20", {"sd2"}, BASE, _M)
SD21UnclipL = family_class("SD21UnclipL", set(), SD20, _M)
SD21UnclipH = family_class("SD21UnclipH", set(), SD20, _M)
SDXLRefiner = family_class("SDXLRefiner", {"sdxl_refiner"}, BASE, _M)
SDXL = family_class("SDXL", {"sdxl"}, BASE, _M)
SSD1B = family_class("SSD1B", set(), SDXL, _M)
Segmind_Vega = family_class("Segmind_Vega", set(), SDXL, _M)
KOALA_700M = family_class("KOALA_700M", set(), SDXL, _M)
KOALA_1B = family_class("KOALA_1B", set(), SDXL, _M)
SVD_img2vid = family_class("SVD_img2vid", {"svd"}, BASE, _M)
_OTHERS = ("SD15_instructpix2pix", "SDXL_instructpix2pix", "SV3D_u", "SV3D_p", "Stable_Zero123", "SD_X4Upscaler",
           "Stable_Cascade_C", "Stable_Cascade_B", "SD3", "StableAudio", "AuraFlow", "PixArtAlpha", "PixArtSigma",
           "HunyuanDiT", "HunyuanDiT1", "FluxInpaint", "Flux", "FluxSchnell", "GenmoMochi", "LTXV", "HunyuanVideo",
           "HunyuanVideoI2V", "HunyuanVideoSkyreelsI2V", "CosmosT2V", "CosmosI2V", "Lumina2", "WAN21_T2V",
           "WAN21_I2V", "WAN21_FunControl2V", "WAN21_Vace", "WAN22_T2V", "Hunyuan3Dv2", "HiDream", "Chroma",
           "ACEStep", "Omnigen2", "QwenImage")
globals().update({name: family_class(name, set(), BASE, _M) for name in _OTHERS})
models = [SD15, SD20, SD21UnclipL, SD21UnclipH, SDXLRefiner, SDXL, SSD1B, KOALA_700M, KOALA_1B, Segmind_Vega,
          SVD_img2vid, *(globals()[name] for name in _OTHERS)]
