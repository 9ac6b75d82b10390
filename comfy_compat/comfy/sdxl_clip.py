"""ComfyUI's `comfy.sdxl_clip`: SDXL text-encoder class names packs subclass or test with isinstance."""

from comfy_compat.comfy.sd1_clip import SDClipModel
from comfy_compat.family_classes import standing_for

_M = "comfy.sdxl_clip"
SDXLClipG = standing_for("SDXLClipG", (), SDClipModel, _M)
SDXLClipModel = standing_for("SDXLClipModel", (), module=_M)
SDXLRefinerClipModel = standing_for("SDXLRefinerClipModel", (), SDXLClipModel, _M)
SDXLTokenizer = standing_for("SDXLTokenizer", (), module=_M)
SDXLClipGTokenizer = standing_for("SDXLClipGTokenizer", (), module=_M)
StableCascadeClipModel = standing_for("StableCascadeClipModel", (), SDXLClipModel, _M)
