"""ComfyUI's `comfy.diffusers_convert`: diffusers <-> LDM state-dict key conversion. Loom reads diffusers
names through engine/models/diffusers_names.py when it loads files; these whole-dict converters raise
NotImplementedError when called (a pack importing the module still loads)."""

from __future__ import annotations

from typing import Any


def _not_here(name: str) -> None:
    raise NotImplementedError(f"comfy.diffusers_convert.{name} is not available in Loom")


def convert_unet_state_dict(unet_state_dict: Any) -> Any:
    _not_here("convert_unet_state_dict")


def convert_vae_state_dict(vae_state_dict: Any) -> Any:
    _not_here("convert_vae_state_dict")


def convert_text_enc_state_dict(text_enc_dict: Any) -> Any:
    _not_here("convert_text_enc_state_dict")


def convert_text_enc_state_dict_v20(text_enc_dict: Any, prefix: str = "") -> Any:
    _not_here("convert_text_enc_state_dict_v20")
