"""A node pack written the way ComfyUI packs are: it imports ComfyUI's modules, which Loom emulates."""

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from .routes import ROUTES_ADDED

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "ROUTES_ADDED"]
