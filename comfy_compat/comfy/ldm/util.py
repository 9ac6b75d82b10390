"""ComfyUI's `comfy.ldm.util`: small helpers of the LDM code base packs import."""

from __future__ import annotations

import importlib
from typing import Any


def exists(value: Any) -> bool:
    return value is not None


def default(value: Any, fallback: Any) -> Any:
    if value is not None:
        return value
    return fallback() if callable(fallback) else fallback


def get_obj_from_str(string: str, reload: bool = False) -> Any:
    module, _, name = string.rpartition(".")
    return getattr(importlib.import_module(module), name)


def instantiate_from_config(config: dict) -> Any:
    """`config["target"]` (a dotted class path) called with `config["params"]`."""
    if "target" not in config:
        raise KeyError("expected key `target` to instantiate")
    return get_obj_from_str(config["target"])(**config.get("params", {}))


def count_params(model: Any, verbose: bool = False) -> int:
    return sum(p.numel() for p in model.parameters())
