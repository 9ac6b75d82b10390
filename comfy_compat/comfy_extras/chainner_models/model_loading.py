"""ComfyUI's old `comfy_extras.chainner_models.model_loading`: an upscale model from a state dict, through
spandrel as Loom's upscale-model loader does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def load_state_dict(state_dict: Mapping[str, Any]) -> Any:
    """The spandrel model (ImageModelDescriptor's model) of an upscale network's weights."""
    from spandrel import ModelLoader

    return ModelLoader().load_from_state_dict(dict(state_dict)).model
