"""ComfyUI's `comfy.sd1_clip`: the text-encoder class names packs subclass or test with isinstance, and the
token-weight helpers. Loom's CLIP (engine/values/model.py) encodes text itself; these classes match no
Loom value."""

from __future__ import annotations

from comfy_compat.family_classes import standing_for

_M = "comfy.sd1_clip"
SDClipModel = standing_for("SDClipModel", (), module=_M)
SD1ClipModel = standing_for("SD1ClipModel", (), module=_M)
SDTokenizer = standing_for("SDTokenizer", (), module=_M)
SD1Tokenizer = standing_for("SD1Tokenizer", (), module=_M)
ClipTokenWeightEncoder = standing_for("ClipTokenWeightEncoder", (), module=_M)


def escape_important(text: str) -> str:
    return text.replace("\\)", "\0\1").replace("\\(", "\0\2")


def unescape_important(text: str) -> str:
    return text.replace("\0\1", ")").replace("\0\2", "(")


def token_weights(string: str, current_weight: float) -> list[tuple[str, float]]:
    """Split a prompt into (text, weight) parts by Loom's prompt-weight parser."""
    from engine.models.prompt_weights import parse_weights

    return [(text, weight * current_weight) for text, weight in parse_weights(string)]
