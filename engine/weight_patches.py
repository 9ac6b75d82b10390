"""Weight patches (LoRA and friends) applied to a placed module and undone exactly.

A patched weight is a new tensor; the original tensor itself is kept as the backup, so restoring is
bit-identical and costs no copy. The model manager applies a handle's patches when it places the model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

import torch
from torch import nn

PatchFn = Callable[[torch.Tensor, float], torch.Tensor]


class Patch(NamedTuple):
    """A change to one weight (a module state-dict key): an additive delta tensor (w + strength * delta),
    or fn(w, strength) -> new w, both computed in float32."""

    key: str
    value: torch.Tensor | PatchFn
    strength: float = 1.0


def same_patches(a: tuple[Patch, ...], b: tuple[Patch, ...]) -> bool:
    """True when both lists hold the same patch objects with the same strengths, in order."""
    return len(a) == len(b) and all(
        p.key == q.key and p.value is q.value and p.strength == q.strength for p, q in zip(a, b)
    )


def _tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    return dict(module.named_parameters()) | dict(module.named_buffers())


def _patched(weight: torch.Tensor, patch: Patch) -> torch.Tensor:
    if isinstance(patch.value, torch.Tensor):
        delta = patch.value.to(weight.device, torch.float32).reshape(weight.shape)
        return weight + patch.strength * delta
    return patch.value(weight, patch.strength).float()


def patch_weight(weight: torch.Tensor, patches: Iterable[Patch]) -> torch.Tensor:
    """`weight` (float32) with `patches` applied in order, as a new tensor."""
    for patch in patches:
        weight = _patched(weight, patch)
    return weight


def apply_patches(module: nn.Module, patches: tuple[Patch, ...], model_name: str) -> dict[str, torch.Tensor]:
    """Patch `module` in place; returns {key: original tensor} for `restore_weights`."""
    tensors = _tensors(module)
    backups = {}
    for key in dict.fromkeys(p.key for p in patches):
        if key not in tensors:
            raise KeyError(f"patch targets {key!r}, which model {model_name!r} does not have")
        original = tensors[key].data
        weight = patch_weight(original.float(), (p for p in patches if p.key == key))
        backups[key] = original
        tensors[key].data = weight.to(original.dtype)
    return backups


def restore_weights(module: nn.Module, backups: dict[str, torch.Tensor]) -> None:
    """Put back the exact original tensors saved by `apply_patches`."""
    tensors = _tensors(module)
    for key, original in backups.items():
        tensors[key].data = original
