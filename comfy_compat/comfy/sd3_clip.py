"""ComfyUI's `comfy.sd3_clip`: SD3 text-encoder class names (a family Loom does not load; no Loom value
matches them)."""

from comfy_compat.family_classes import standing_for

_M = "comfy.sd3_clip"
SD3ClipModel = standing_for("SD3ClipModel", (), module=_M)
SD3Tokenizer = standing_for("SD3Tokenizer", (), module=_M)
T5XXLModel = standing_for("T5XXLModel", (), module=_M)
T5XXLTokenizer = standing_for("T5XXLTokenizer", (), module=_M)
