"""Imports one provided and one missing ComfyUI module (the missing one on line 5)."""

from comfy.utils import ProgressBar

from comfy.ldm.flux.layers import EmbedND

NODE_CLASS_MAPPINGS = {"Uses": (ProgressBar, EmbedND)}
