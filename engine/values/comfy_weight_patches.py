"""ComfyUI's weight patch entries as Loom weight patches, so `MODEL.add_patches` (LoRA loaders, model
merging, packs) goes through the one mechanism Loom has: patches on the model handle, applied by the model
manager when it places the weights and undone bit-exactly.

A ComfyUI entry is (strength, value, strength_model, offset, function). `value` is ("diff", (tensor,)),
("set", (tensor,)), a 1-tuple (tensor,) meaning "diff", a nested list [(weight, convert), entry, ...] (a
second model's weight with its own patches, as get_key_patches returns it), or an adapter object with
ComfyUI's `calculate_weight(weight, key, strength, strength_model, offset, function, ...)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import torch

from engine.weight_patches import Patch

log = logging.getLogger(__name__)

Entry = tuple  # (strength, value, strength_model, offset, function)


def unconverted(tensor: torch.Tensor, **_) -> torch.Tensor:
    """get_key_patches' convert function: Loom stores weights as they are used."""
    return tensor


def _nested(value: list, like: torch.Tensor, key: str) -> torch.Tensor:
    """A nested [(weight, convert), entries...] value resolved to its patched weight."""
    weight, convert = value[0]
    start = convert(weight.to(like.device, torch.float32, copy=True), inplace=True)
    return calculate_weight(value[1:], start, key)


def _apply_entry(weight: torch.Tensor, entry: Entry, key: str) -> torch.Tensor:
    """One entry on a float32 weight that this function may change in place; returns the result."""
    strength, value, strength_model, offset, function = entry
    function = function or (lambda t: t)
    whole, target = weight, weight if offset is None else weight.narrow(*offset)
    if strength_model != 1.0:
        target *= strength_model
    if isinstance(value, list):
        value = (_nested(value, target, key),)
    if hasattr(value, "calculate_weight"):
        out = value.calculate_weight(target, key, strength, strength_model, offset, function, torch.float32, None)
        if offset is None:
            return out
        target.copy_(out)
        return whole
    kind, args = ("diff", value) if len(value) == 1 else value
    if kind == "diff":
        diff = args[0]
        if strength != 0.0:
            if diff.shape != target.shape:
                log.warning("weight patch for %s not applied: shape %s != %s", key, tuple(diff.shape),
                            tuple(target.shape))
            else:
                target += function(strength * diff.to(target.device, target.dtype))
    elif kind == "set":
        target.copy_(args[0])
    else:
        log.warning("weight patch type %r for %s is not known", kind, key)
    return whole


def calculate_weight(entries: list, weight: torch.Tensor, key: str) -> torch.Tensor:
    """ComfyUI entries applied in order to `weight` (changed in place and returned)."""
    for entry in entries:
        weight = _apply_entry(weight, entry, key)
    return weight


class ComfyWeightPatch:
    """A Loom `Patch` function carrying one ComfyUI entry (all but its strength, which the Patch holds)."""

    def __init__(self, key: str, value, strength_model: float = 1.0, offset=None, function: Callable | None = None):
        self.key, self.value, self.strength_model = key, value, strength_model
        self.offset, self.function = offset, function

    def entry(self, strength: float) -> Entry:
        return (strength, self.value, self.strength_model, self.offset, self.function)

    def __call__(self, weight: torch.Tensor, strength: float) -> torch.Tensor:
        return _apply_entry(weight.clone(), self.entry(strength), self.key)


class LoomPatchAdapter:
    """A Loom patch (a delta tensor or fn(w, strength)) seen as a ComfyUI weight adapter, for
    get_key_patches: ComfyUI-style code can re-apply it with calculate_weight."""

    name = "loom"

    def __init__(self, value):
        self.value = value

    def calculate_weight(self, weight, key, strength, strength_model, offset, function, intermediate_dtype=None,
                         original_weights=None):
        if isinstance(self.value, torch.Tensor):
            return weight + strength * self.value.to(weight.device, weight.dtype).reshape(weight.shape)
        return self.value(weight, strength).to(weight.dtype)


def comfy_entry(patch: Patch) -> Entry:
    """The ComfyUI entry for a patch on a handle."""
    if isinstance(patch.value, ComfyWeightPatch):
        return patch.value.entry(patch.strength)
    return (patch.strength, LoomPatchAdapter(patch.value), 1.0, None, None)


def loom_patch(module_key: str, value, strength_patch: float, strength_model: float, offset=None,
               function=None) -> Patch:
    """The handle patch for one ComfyUI add_patches item (module_key without "diffusion_model.")."""
    return Patch(module_key, ComfyWeightPatch(module_key, value, strength_model, offset, function), strength_patch)

