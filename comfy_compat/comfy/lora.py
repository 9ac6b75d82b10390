"""ComfyUI's `comfy.lora`: the LoRA key maps of a model / CLIP and load_lora, which turns a LoRA state dict
into weight patches for ModelPatcher.add_patches, computed by Loom's LoRA adapters (engine/models/lora)."""

from __future__ import annotations

from typing import Any

from engine.models.lora.formats import build_adapters
from engine.models.lora.keys import clip_names, normalise, unet_names
from engine.values.base_model import DIFFUSION_PREFIX
from engine.values.comfy_weight_patches import LoomPatchAdapter, calculate_weight

__all__ = ["calculate_weight", "load_lora", "model_lora_keys_clip", "model_lora_keys_unet"]


def model_lora_keys_unet(model: Any, key_map: dict | None = None) -> dict[str, str]:
    """LoRA module name -> "diffusion_model.<weight key>" for a MODEL's UNet (added to `key_map`)."""
    key_map = {} if key_map is None else key_map
    shapes = model.handle.module_shapes()
    key_map.update({name: DIFFUSION_PREFIX + key for name, key in unet_names(model.config.unet, shapes).items()})
    return key_map


def model_lora_keys_clip(clip: Any, key_map: dict | None = None) -> dict[str, str]:
    """LoRA module name -> text-encoder weight key for a CLIP (added to `key_map`)."""
    key_map = {} if key_map is None else key_map
    handle = getattr(clip, "handle", None) or getattr(getattr(clip, "patcher", None), "handle", None)
    key_map.update(clip_names(handle.module_shapes()))
    return key_map


def load_lora(lora: dict, to_load: dict[str, str], log_missing: bool = True) -> dict[str, Any]:
    """{weight key: adapter} for the LoRA modules `to_load` names; each adapter computes its patched
    weight with Loom's LoRA/LoHa/LoKr maths when the patch is applied."""
    adapters, _unknown = build_adapters(lora)
    patches = {}
    for module, adapter in adapters.items():
        key = to_load.get(module) or to_load.get(normalise(module))
        if key is not None:
            patches[key] = LoomPatchAdapter(lambda weight, strength, adapter=adapter: adapter.patched(weight, strength))
    return patches
