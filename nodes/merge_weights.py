"""Model merging as weight patches: each weight of model 1 becomes `a * w1 + b * w2`, where w2 is model 2's
weight with model 2's own patches applied (ComfyUI's `add_patches(get_key_patches(), b, a)` semantics).

Nothing is merged until model 1 is placed; model 2's weights are read from its file (or its loaded module)
one key at a time, so a merge costs no second full copy of a model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping

import torch

from engine.memory import ModelHandle
from engine.weight_patches import Patch, patch_weight

# Keys that are not weights: copied position ids and CLIP's logit scale are never merged (as ComfyUI).
UNMERGED_SUFFIXES = (".position_ids", ".logit_scale")


@functools.lru_cache(maxsize=4)
def _loaded_state(slot) -> dict[str, torch.Tensor]:
    """The module-named tensors of a model built by a `load` function (its file layout differs)."""
    return slot.load(slot.state_dict()).state_dict()


def raw_weights(handle: ModelHandle) -> Mapping[str, torch.Tensor]:
    """A handle's unpatched weights named as its module names them, read lazily where the file allows."""
    slot = handle.slot
    return slot.state_dict() if slot.build is not None else _loaded_state(slot)


def weight_reader(handle: ModelHandle) -> Callable[[str], torch.Tensor]:
    """key -> that weight of the handle's model with the handle's patches applied, in float32; the
    weights are opened on the first read and kept open for the next ones."""
    opened = functools.cache(lambda: raw_weights(handle))

    def read(key: str) -> torch.Tensor:
        return patch_weight(opened()[key].float(), [p for p in handle.patches if p.key == key])

    return read


def _blend(read_other: Callable[[str], torch.Tensor], key: str, keep: float) -> Callable:
    def blend(weight: torch.Tensor, strength: float) -> torch.Tensor:
        weight = weight * keep
        if strength != 0.0:
            weight = weight + strength * read_other(key).to(weight.device)
        return weight

    return blend


def merge_patches(target: ModelHandle, other: ModelHandle, ratios: Callable[[str], tuple[float, float]],
                  keys: Iterable[str] | None = None) -> list[Patch]:
    """Patches turning each weight w1 of `target` into `keep * w1 + take * w2`, with (take, keep) =
    `ratios(key)`, for the keys both models have with the same shape (others are left alone)."""
    mine, theirs = target.module_shapes(), other.module_shapes()
    read_other = weight_reader(other)
    patches = []
    for key in keys if keys is not None else theirs:
        if key.endswith(UNMERGED_SUFFIXES) or mine.get(key) != theirs.get(key):
            continue
        take, keep = ratios(key)
        patches.append(Patch(key, _blend(read_other, key, keep), take))
    return patches


def longest_prefix_ratio(ratios: Mapping[str, float]) -> Callable[[str], tuple[float, float]]:
    """Per-key (take, keep) from block ratios: the ratio of the longest matching key prefix, else the
    first ratio; a ratio r keeps r of model 1 and takes 1 - r of model 2 (ModelMergeBlocks)."""
    default = next(iter(ratios.values()))

    def lookup(key: str) -> tuple[float, float]:
        matches = [prefix for prefix in ratios if key.startswith(prefix)]
        ratio = ratios[max(matches, key=len)] if matches else default
        return 1.0 - ratio, ratio

    return lookup
