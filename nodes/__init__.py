"""Built-in nodes, one small module per subject; every module here is registered as core at startup."""

from typing import Any


def __getattr__(name: str) -> Any:
    """Packs written for ComfyUI read its `nodes` module (NODE_CLASS_MAPPINGS, MAX_RESOLUTION): forwarded
    to the compatibility layer (comfy_compat/comfy_nodes.py)."""
    from comfy_compat.comfy_nodes import attribute

    return attribute(name)
