"""ComfyUI's `comfy.model_patcher`: ModelPatcher is Loom's MODEL value class (engine/values/model.py), and
the model_options helpers packs use to add attention / cfg patches to a copy of the options dict."""

from __future__ import annotations

from typing import Any

from engine.values.model import DiffusionModel as ModelPatcher

__all__ = ["ModelPatcher", "set_model_options_patch_replace", "set_model_options_post_cfg_function",
           "set_model_options_pre_cfg_function"]


def set_model_options_patch_replace(model_options: dict, patch: Any, name: str, block_name: str, number: int,
                                    transformer_index: int | None = None) -> dict:
    """A copy of `model_options` with `patch` replacing attention `name` of one transformer block."""
    to = dict(model_options.get("transformer_options", {}))
    patches_replace = dict(to.get("patches_replace", {}))
    replaced = dict(patches_replace.get(name, {}))
    key = (block_name, number, transformer_index) if transformer_index is not None else (block_name, number)
    replaced[key] = patch
    patches_replace[name] = replaced
    to["patches_replace"] = patches_replace
    return {**model_options, "transformer_options": to}


def set_model_options_post_cfg_function(model_options: dict, post_cfg_function: Any,
                                        disable_cfg1_optimization: bool = False) -> dict:
    """A copy of `model_options` with a function run on each step's guided result."""
    out = {**model_options, "sampler_post_cfg_function": [*model_options.get("sampler_post_cfg_function", []),
                                                          post_cfg_function]}
    if disable_cfg1_optimization:
        out["disable_cfg1_optimization"] = True
    return out


def set_model_options_pre_cfg_function(model_options: dict, pre_cfg_function: Any,
                                       disable_cfg1_optimization: bool = False) -> dict:
    """A copy of `model_options` with a function run on the conds before guidance."""
    out = {**model_options, "sampler_pre_cfg_function": [*model_options.get("sampler_pre_cfg_function", []),
                                                         pre_cfg_function]}
    if disable_cfg1_optimization:
        out["disable_cfg1_optimization"] = True
    return out
