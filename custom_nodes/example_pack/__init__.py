"""Example node pack: two image nodes written in the ComfyUI (V1) node protocol.

Copy this folder to start a pack. Loom imports every package in custom_nodes/ and registers
the classes listed in NODE_CLASS_MAPPINGS; see README.md.
"""

from .image_nodes import ImageBlend, ImageGrayscale

# class_type (unique across all packs) -> node class. Workflows refer to nodes by these names.
NODE_CLASS_MAPPINGS = {
    "ImageGrayscale": ImageGrayscale,
    "ExamplePackBlend": ImageBlend,
}

# Optional: the titles shown in the canvas' node menu.
NODE_DISPLAY_NAME_MAPPINGS = {
    "ImageGrayscale": "Grayscale Image",
    "ExamplePackBlend": "Blend Images (example pack)",
}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
