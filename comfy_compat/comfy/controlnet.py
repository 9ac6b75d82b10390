"""ComfyUI's `comfy.controlnet`: load_controlnet (Loom's CONTROL_NET value, engine/values/control.py) and
the class names packs subclass or test with isinstance (ControlBase, ControlNet, T2IAdapter, ControlLora)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import torch

from comfy_compat import state
from comfy_compat.family_classes import StandsForMeta, standing_for
from engine.values.control import ControlNetValue
from engine.values.control import load_controlnet as loom_load_controlnet

_M = "comfy.controlnet"


class StrengthType(enum.Enum):
    CONSTANT = 1
    LINEAR_UP = 2


class ControlBase(metaclass=StandsForMeta):
    """ComfyUI's base of control objects, for packs that subclass it (Loom's own CONTROL_NET values are
    engine.values.control.ControlNetValue, which isinstance checks against this class accept). It holds
    ComfyUI's fields (hint, strength, timestep range, chained previous control) and their setters."""

    loom_types = (ControlNetValue,)

    def __init__(self) -> None:
        self.cond_hint_original = self.cond_hint = None
        self.strength = 1.0
        self.timestep_percent_range = (0.0, 1.0)
        self.latent_format = self.vae = self.timestep_range = self.previous_controlnet = None
        self.global_average_pooling = False
        self.compression_ratio = 8
        self.upscale_algorithm = "nearest-exact"
        self.extra_args: dict = {}
        self.extra_conds: list = []
        self.strength_type = StrengthType.CONSTANT
        self.concat_mask = False
        self.extra_concat_orig: list = []
        self.extra_concat = self.extra_hooks = None
        self.preprocess_image = lambda image: image

    def set_cond_hint(self, cond_hint: Any, strength: float = 1.0, timestep_percent_range: tuple = (0.0, 1.0),
                      vae: Any = None, extra_concat: list | None = None) -> ControlBase:
        self.cond_hint_original, self.strength = cond_hint, strength
        self.timestep_percent_range, self.vae = timestep_percent_range, vae
        self.extra_concat_orig = list(extra_concat or [])
        return self

    def set_previous_controlnet(self, controlnet: Any) -> ControlBase:
        self.previous_controlnet = controlnet
        return self

    def set_extra_arg(self, argument: str, value: Any = None) -> None:
        self.extra_args[argument] = value

    def copy_to(self, other: ControlBase) -> None:
        for name in ("cond_hint_original", "strength", "timestep_percent_range", "global_average_pooling",
                     "compression_ratio", "upscale_algorithm", "latent_format", "extra_args", "vae",
                     "extra_conds", "strength_type", "concat_mask", "extra_concat_orig", "extra_hooks",
                     "preprocess_image"):
            setattr(other, name, getattr(self, name))
        other.extra_args = dict(self.extra_args)

    def get_models(self) -> list:
        return self.previous_controlnet.get_models() if self.previous_controlnet is not None else []

    def get_extra_hooks(self) -> list:
        return self.previous_controlnet.get_extra_hooks() if self.previous_controlnet is not None else []

    def inference_memory_requirements(self, dtype: Any) -> int:
        previous = self.previous_controlnet
        return previous.inference_memory_requirements(dtype) if previous is not None else 0

    def cleanup(self) -> None:
        if self.previous_controlnet is not None:
            self.previous_controlnet.cleanup()
        self.cond_hint = None


ControlNet = standing_for("ControlNet", (ControlNetValue,), ControlBase, _M)
ControlLora = standing_for("ControlLora", (), ControlNet, _M)
ControlNetSD35 = standing_for("ControlNetSD35", (), ControlNet, _M)
ControlNetFlux = standing_for("ControlNetFlux", (), ControlNet, _M)
T2IAdapter = standing_for("T2IAdapter", (), ControlBase, _M)


def load_controlnet(ckpt_path: str, model: Any = None, model_options: dict | None = None) -> ControlNetValue:
    """A ControlNet or T2I-Adapter file as Loom's CONTROL_NET (a diff ControlNet needs `model`)."""
    return loom_load_controlnet(state.model_manager(), Path(ckpt_path), model)




def broadcast_image_to(tensor: torch.Tensor, target_batch_size: int, batched_number: int) -> torch.Tensor:
    """A hint batch fitted to `target_batch_size`: one group of target / batched_number images (the hint's
    leading images, cycled when it has fewer), repeated once per cond/uncond group. A single image stays as is."""
    if tensor.shape[0] == 1:
        return tensor
    group_size = target_batch_size // batched_number
    group = tensor[torch.arange(group_size, device=tensor.device) % tensor.shape[0]]
    if group_size == target_batch_size:
        return group
    return torch.cat([group] * batched_number, dim=0)
