"""ComfyUI's `comfy.model_patcher`: ModelPatcher is Loom's MODEL class (engine/values/model_patcher.py), with
the model_options helpers packs use to add attention / cfg patches to a copy of an options dict."""

from comfy_compat.comfy.patcher_extension import CallbacksMP, PatcherInjection, WrappersMP
from engine.values.model_patcher import (
    ModelPatcher,
    set_model_options_patch_replace,
    set_model_options_post_cfg_function,
    set_model_options_pre_cfg_function,
)

__all__ = [
    "CallbacksMP",
    "ModelPatcher",
    "PatcherInjection",
    "WrappersMP",
    "create_model_options_clone",
    "set_model_options_patch_replace",
    "set_model_options_post_cfg_function",
    "set_model_options_pre_cfg_function",
]


def create_model_options_clone(orig_model_options: dict) -> dict:
    """A copy of model_options whose nested dicts and lists (transformer_options, patches) are copies too."""
    def copy(value):
        if isinstance(value, dict):
            return {k: copy(v) for k, v in value.items()}
        if isinstance(value, list):
            return [copy(v) for v in value]
        return value

    return copy(orig_model_options)
