"""ComfyUI's `comfy.patcher_extension`: the wrapper / callback registries a ModelPatcher keeps in its
model_options["transformer_options"] (dicts of lists keyed by wrapper type and by the key of the pack that
added them), and WrapperExecutor, which runs a chain of wrappers around an original function."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any


class CallbacksMP:
    ON_CLONE = "on_clone"
    ON_LOAD = "on_load_after"
    ON_DETACH = "on_detach_after"
    ON_CLEANUP = "on_cleanup"
    ON_PRE_RUN = "on_pre_run"
    ON_PREPARE_STATE = "on_prepare_state"
    ON_APPLY_HOOKS = "on_apply_hooks"
    ON_REGISTER_ALL_HOOK_PATCHES = "on_register_all_hook_patches"
    ON_INJECT_MODEL = "on_inject_model"
    ON_EJECT_MODEL = "on_eject_model"

    @classmethod
    def init_callbacks(cls) -> dict:
        return {}


class WrappersMP:
    OUTER_SAMPLE = "outer_sample"
    PREPARE_SAMPLING = "prepare_sampling"
    SAMPLER_SAMPLE = "sampler_sample"
    CALC_COND_BATCH = "calc_cond_batch"
    APPLY_MODEL = "apply_model"
    DIFFUSION_MODEL = "diffusion_model"

    @classmethod
    def init_wrappers(cls) -> dict:
        return {}


class EnumHookMode(enum.Enum):
    MinVram = "minvram"
    MaxSpeed = "maxspeed"


class PatcherInjection:
    """An inject / eject pair a pack attaches to a ModelPatcher."""

    def __init__(self, inject: Callable, eject: Callable):
        self.inject, self.eject = inject, eject


def _registry(options: dict, kind: str) -> dict:
    return options.setdefault(kind, {})


def add_wrapper_with_key(wrapper_type: str, key: str, wrapper: Callable, transformer_options: dict,
                         is_model_options: bool = False) -> None:
    """Add `wrapper` for `wrapper_type` under `key` (the pack's name) to the options."""
    options = transformer_options.setdefault("transformer_options", {}) if is_model_options else transformer_options
    _registry(options, "wrappers").setdefault(wrapper_type, {}).setdefault(key, []).append(wrapper)


def add_callback_with_key(call_type: str, key: str, callback: Callable, transformer_options: dict,
                          is_model_options: bool = False) -> None:
    options = transformer_options.setdefault("transformer_options", {}) if is_model_options else transformer_options
    _registry(options, "callbacks").setdefault(call_type, {}).setdefault(key, []).append(callback)


def _all(options: dict, kind: str, item_type: str, is_model_options: bool) -> list:
    options = options.get("transformer_options", {}) if is_model_options else options
    return [item for items in options.get(kind, {}).get(item_type, {}).values() for item in items]


def get_all_wrappers(wrapper_type: str, transformer_options: dict, is_model_options: bool = False) -> list:
    return _all(transformer_options, "wrappers", wrapper_type, is_model_options)


def get_all_callbacks(call_type: str, transformer_options: dict, is_model_options: bool = False) -> list:
    return _all(transformer_options, "callbacks", call_type, is_model_options)


def get_wrappers_with_key(wrapper_type: str, key: str, transformer_options: dict,
                          is_model_options: bool = False) -> list:
    options = transformer_options.get("transformer_options", {}) if is_model_options else transformer_options
    return list(options.get("wrappers", {}).get(wrapper_type, {}).get(key, []))


def merge_nested_dicts(a: dict, b: dict, copy_dict1: bool = True) -> dict:
    """`a` with `b`'s lists appended and nested dicts merged (a copy of `a` unless told otherwise)."""
    out = dict(a) if copy_dict1 else a
    for key, value in b.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_nested_dicts(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out


class WrapperExecutor:
    """Runs `original` through a chain of wrappers: each wrapper gets this executor (call it to go on)
    followed by the original arguments."""

    def __init__(self, original: Callable, class_obj: Any, wrappers: list, idx: int = 0):
        self.original, self.class_obj, self.wrappers, self.idx = original, class_obj, wrappers, idx

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.idx >= len(self.wrappers):
            return self.original(*args, **kwargs)
        following = WrapperExecutor(self.original, self.class_obj, self.wrappers, self.idx + 1)
        return self.wrappers[self.idx](following, *args, **kwargs)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        return self(*args, **kwargs)

    @classmethod
    def new_executor(cls, original: Callable, wrappers: list, idx: int = 0) -> WrapperExecutor:
        return cls(original, None, wrappers, idx)

    @classmethod
    def new_class_executor(cls, original: Callable, class_obj: Any, wrappers: list, idx: int = 0) -> WrapperExecutor:
        return cls(original, class_obj, wrappers, idx)
