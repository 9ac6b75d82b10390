"""A pack whose submodule imports a ComfyUI module Loom does not provide: it fails, and its report points at
the file and line of that import."""

from .loader import NODE_CLASS_MAPPINGS

__all__ = ["NODE_CLASS_MAPPINGS"]
