"""A pack needing a ComfyUI module that Loom does not emulate: it must fail, naming that module."""

from comfy.sd import load_checkpoint_guess_config  # not provided
from comfy.utils import ProgressBar  # provided

NODE_CLASS_MAPPINGS = {"Uses": (ProgressBar, load_checkpoint_guess_config)}
