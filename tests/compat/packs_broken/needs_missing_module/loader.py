"""Imports one provided and one missing ComfyUI module (the missing one on line 4)."""

from comfy.utils import ProgressBar
from comfy.weight_adapter import LoRAAdapter

NODE_CLASS_MAPPINGS = {"Uses": (ProgressBar, LoRAAdapter)}
