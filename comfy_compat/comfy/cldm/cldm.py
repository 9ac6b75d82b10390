"""ComfyUI's `comfy.cldm.cldm`: the ControlNet network class is Loom's engine.models.controlnet.ControlNetModel."""

from engine.models.controlnet import ControlNetModel as ControlNet

__all__ = ["ControlNet"]
