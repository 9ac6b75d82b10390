"""ComfyUI's `comfy.controlnet`: load_controlnet (Loom's CONTROL_NET value, engine/values/control.py) and
the class names packs subclass or test with isinstance (ControlBase, ControlNet, T2IAdapter, ControlLora)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import torch

from comfy_compat import state
from comfy_compat.family_classes import standing_for
from engine.values.control import ControlNetValue
from engine.values.control import load_controlnet as loom_load_controlnet

_M = "comfy.controlnet"
ControlBase = standing_for("ControlBase", (ControlNetValue,), module=_M)
ControlNet = standing_for("ControlNet", (ControlNetValue,), ControlBase, _M)
ControlLora = standing_for("ControlLora", (), ControlNet, _M)
ControlNetSD35 = standing_for("ControlNetSD35", (), ControlNet, _M)
ControlNetFlux = standing_for("ControlNetFlux", (), ControlNet, _M)
T2IAdapter = standing_for("T2IAdapter", (), ControlBase, _M)


class StrengthType(enum.Enum):
    CONSTANT = 1
    LINEAR_UP = 2


def load_controlnet(ckpt_path: str, model: Any = None, model_options: dict | None = None) -> ControlNetValue:
    """A ControlNet or T2I-Adapter file as Loom's CONTROL_NET (a diff ControlNet needs `model`)."""
    return loom_load_controlnet(state.model_manager(), Path(ckpt_path), model)




def broadcast_image_to(tensor: torch.Tensor, target_batch_size: int, batched_number: int) -> torch.Tensor:
    """A hint batch repeated (or cut) to `target_batch_size`, per cond/uncond group."""
    current = tensor.shape[0]
    if current == 1:
        return tensor
    per_batch = target_batch_size // batched_number
    tensor = tensor[:per_batch]
    if per_batch > tensor.shape[0]:
        tensor = torch.cat([tensor] * (per_batch // tensor.shape[0]) + [tensor[:per_batch % tensor.shape[0]]])
    current = tensor.shape[0]
    if current == target_batch_size:
        return tensor
    return torch.cat([tensor] * batched_number, dim=0)
