"""Which model weight each LoRA module name means.

A module is named by its trainer: kohya (`lora_unet_` + the path with `_` for `.`; SD1.x paths follow
diffusers, SDXL paths follow LDM; text encoders `lora_te_`, `lora_te1_`, `lora_te2_`), LyCORIS' wrapper
(`lycoris_`), diffusers/PEFT (`unet.` / `text_encoder.` / `text_encoder_2.` + the dotted diffusers path,
or the bare path) and the old attention-processor format (`...attn1.processor.to_q_lora`). Every name
maps to the managed module's own weight key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from engine.models.diffusers_names import block_map, ldm_to_diffusers
from engine.models.unet import UNetConfig

TEXT_PREFIXES = ("lora_te", "text_encoder", "lora_prior_te")
# Text tower name in the CLIP module -> the prefixes trainers use for it, by how many towers there are.
_TOWER_NAMES = {1: {"l": ("lora_te", "text_encoder"), "h": ("lora_te", "text_encoder"),
                    "g": ("lora_te", "text_encoder")},
                2: {"l": ("lora_te1", "lora_te", "text_encoder"), "g": ("lora_te2", "text_encoder_2")}}
_TOWER_KEY = re.compile(r"^towers\.(\w+)\.(?:text_model\.)?(.+)\.weight$")


def _kohya(prefix: str, path: str) -> str:
    return f"{prefix}_{path.replace('.', '_')}"


def unet_names(config: UNetConfig, weight_keys: Iterable[str]) -> dict[str, str]:
    """LoRA module name -> UNet weight key (LDM names, as engine.models.unet holds them)."""
    blocks = block_map(config)
    names = {}
    for key in weight_keys:
        if not key.endswith(".weight"):
            continue
        ldm = key[: -len(".weight")]
        forms = [ldm]
        diffusers = ldm_to_diffusers(ldm, blocks)
        if diffusers is not None:
            forms.append(diffusers)
            names[f"unet.{diffusers}"] = key
        for form in forms:
            names[form] = key
            names[_kohya("lora_unet", form)] = key
            names[_kohya("lycoris", form)] = key
        names[f"diffusion_model.{ldm}"] = key
        names[f"model.diffusion_model.{ldm}"] = key
    return names


def clip_names(weight_keys: Iterable[str]) -> dict[str, str]:
    """LoRA module name -> weight key of a CLIP module (engine TextTowers: `towers.<l|g|h>.…`)."""
    parsed = [(m.group(1), m.group(2), key) for key in weight_keys if (m := _TOWER_KEY.match(key))]
    towers = sorted({tower for tower, _, _ in parsed})
    prefixes = _TOWER_NAMES.get(len(towers), {})
    names = {}
    for tower, path, key in parsed:
        full = f"text_model.{path}"
        comfy = path if path == "text_projection" else full
        names[f"text_encoders.clip_{tower}.transformer.{comfy}"] = key  # ComfyUI's LoraSave naming
        for prefix in prefixes.get(tower, ()):
            if prefix.startswith("lora_"):
                names[_kohya(prefix, full)] = key
            else:
                names[f"{prefix}.{full}"] = key
    return names


def normalise(module: str) -> str:
    """The old diffusers attention-processor naming in the current form (`processor.to_q_lora` -> `to_q`)."""
    module = module.replace(".processor.", ".")
    for part in ("to_q", "to_k", "to_v"):
        module = re.sub(rf"\.{part}_lora$", f".{part}", module)
    return re.sub(r"\.to_out(?:_lora)?$", ".to_out.0", module)


def is_text_module(module: str) -> bool:
    """True for modules a trainer meant for a text encoder."""
    return module.startswith(TEXT_PREFIXES)
