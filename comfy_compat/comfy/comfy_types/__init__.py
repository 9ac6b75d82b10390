"""ComfyUI's `comfy.comfy_types`: type names and typing aids node packs import (see node_typing)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypedDict

from comfy_compat.comfy.comfy_types.node_typing import (
    IO,
    CheckLazyMixin,
    ComfyNodeABC,
    FileLocator,
    InputTypeDict,
)


class UnetApplyFunction(Protocol):
    """The signature of a model's apply_model, as unet wrappers receive it."""

    def __call__(self, x: Any, t: Any, **kwargs: Any) -> Any: ...


class UnetApplyConds(TypedDict):
    """The conditioning a unet wrapper receives."""

    c_concat: Any
    c_crossattn: Any
    control: Any
    transformer_options: dict | None


class UnetParams(TypedDict):
    """What a unet wrapper function receives beside the apply function."""

    input: Any
    timestep: Any
    c: UnetApplyConds
    cond_or_uncond: list[int]


UnetWrapperFunction = Callable[[UnetApplyFunction, UnetParams], Any]

__all__ = ["IO", "CheckLazyMixin", "ComfyNodeABC", "FileLocator", "InputTypeDict", "UnetApplyConds",
           "UnetApplyFunction", "UnetParams", "UnetWrapperFunction"]
