"""ComfyUI's `comfy.model_detection`: detecting an architecture from state-dict keys. Loom detects the
families it loads in engine/models/detect.py; ComfyUI's config dictionaries are not produced, so these
functions raise NotImplementedError when called (a pack importing the module still loads)."""

from __future__ import annotations

from typing import Any


def _not_here(name: str) -> None:
    raise NotImplementedError(f"comfy.model_detection.{name}: Loom detects checkpoints with "
                              "engine.models.detect.detect_file and has no ComfyUI unet_config dictionaries")


def count_blocks(state_dict_keys: Any, prefix_string: str) -> int:
    """How many numbered blocks `prefix_string % n` the keys hold."""
    count = 0
    while any(key.startswith(prefix_string.format(count)) for key in state_dict_keys):
        count += 1
    return count


def detect_unet_config(state_dict: Any, key_prefix: str, metadata: Any = None) -> Any:
    _not_here("detect_unet_config")


def model_config_from_unet(state_dict: Any, unet_key_prefix: str, use_base_if_no_match: bool = False,
                           metadata: Any = None) -> Any:
    _not_here("model_config_from_unet")


def unet_config_from_diffusers_unet(state_dict: Any, dtype: Any = None) -> Any:
    _not_here("unet_config_from_diffusers_unet")


def model_config_from_diffusers_unet(state_dict: Any) -> Any:
    _not_here("model_config_from_diffusers_unet")


def unet_prefix_from_state_dict(state_dict: Any) -> str:
    """The key prefix of the UNet in a checkpoint (ComfyUI's "model.diffusion_model." for SD files)."""
    return "model.diffusion_model."
