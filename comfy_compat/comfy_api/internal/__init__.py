"""ComfyUI's `comfy_api.internal`: the base markers of V3 node classes and outputs, and the helpers packs
borrow from it (first_real_override, is_class, prune_dict)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class _ComfyNodeInternal:
    """Base of every V3 node class (io.ComfyNode)."""


class _NodeOutputInternal:
    """Base of every V3 node result (io.NodeOutput)."""


def first_real_override(cls: type, name: str, *, base: type | None = None) -> Callable | None:
    """`cls.name` when a class between `cls` and `base` (default: the node base class) defines it, else None."""
    base = base if base is not None else cls.GET_BASE_CLASS()
    for klass in cls.__mro__:
        if klass is base:
            return None
        if name in vars(klass):
            return getattr(cls, name)
    return None


def is_class(obj: Any) -> bool:
    return isinstance(obj, type)


def prune_dict(values: dict) -> dict:
    """`values` without its None entries."""
    return {k: v for k, v in values.items() if v is not None}
