"""ComfyUI's `comfy.supported_models_base`: BASE, the root of the model-family classes, and ClipTarget."""

from __future__ import annotations

from typing import Any

from comfy_compat.family_classes import family_class

BASE = family_class("BASE", {"sd1", "sd2", "sdxl", "sdxl_refiner", "svd"}, module="comfy.supported_models_base")


class ClipTarget:
    """A tokenizer class and a text-encoder class, as a model family declares them."""

    def __init__(self, tokenizer: Any, clip: Any):
        self.clip, self.tokenizer, self.params = clip, tokenizer, {}
