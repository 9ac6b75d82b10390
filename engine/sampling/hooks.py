"""HOOKS: weight patches (a LoRA, a model as LoRA) that apply only to the conditioning entries carrying them,
scheduled by keyframes over the sampling run (ComfyUI's hook groups and HOOK_KEYFRAMES).

A hook does not hold patches for one model: it holds `make_patches(target, strength)`, called with the
MODEL (or CLIP) it is used on, because the key names depend on that model. The sampler groups entries by
their hooks and, before running a group, places the UNet with the MODEL's own patches plus the group's
patches (the model manager's one patching path, undone exactly when the next group is placed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise

from engine.weight_patches import Patch

MakePatches = Callable[[object, float], tuple[Patch, ...]]


@dataclass(frozen=True)
class Keyframe:
    """From `start_percent` of the run on, the hook's strength is multiplied by `strength`; the keyframe is
    held for at least `guarantee_steps` steps before a later one may take over."""

    strength: float
    start_percent: float
    guarantee_steps: int = 1


def add_keyframes(keyframes: tuple[Keyframe, ...], new: Iterable[Keyframe]) -> tuple[Keyframe, ...]:
    """HOOK_KEYFRAMES with `new` added, kept in start_percent order (ties keep insertion order)."""
    return tuple(sorted((*keyframes, *new), key=lambda k: k.start_percent))


@dataclass(frozen=True, eq=False)
class WeightHook:
    """One hook: patches for the MODEL and (optionally) the CLIP, at strengths, with keyframes."""

    name: str
    model_patches: MakePatches | None
    clip_patches: MakePatches | None
    strength_model: float = 1.0
    strength_clip: float = 1.0
    keyframes: tuple[Keyframe, ...] = ()
    _cache: dict = field(default_factory=dict, repr=False)

    def with_keyframes(self, keyframes: tuple[Keyframe, ...]) -> WeightHook:
        return replace(self, keyframes=keyframes, _cache=self._cache)

    def patches_for(self, target, clip: bool, multiplier: float) -> tuple[Patch, ...]:
        """The hook's patches on `target` at its strength x `multiplier` (key mapping done once per target)."""
        make, strength = (self.clip_patches, self.strength_clip) if clip else (self.model_patches,
                                                                               self.strength_model)
        if make is None:
            return ()
        slot = (target.handle.key, clip)
        if slot not in self._cache:
            self._cache[slot] = make(target, 1.0)
        return tuple(p._replace(strength=p.strength * strength * multiplier) for p in self._cache[slot])


def combine_hooks(groups: Iterable[tuple[WeightHook, ...] | None]) -> tuple[WeightHook, ...] | None:
    """The hooks of all groups, each once, in order; None when there are none."""
    combined = tuple(dict.fromkeys(h for g in groups if g for h in g))
    return combined or None


def keyframe_strength(keyframes: Sequence[Keyframe], sigma: float, schedule: Sequence[float] | None,
                      percent_to_sigma: Callable[[float], float]) -> float:
    """The keyframe multiplier at noise level `sigma` of a run down `schedule` (ComfyUI's rules).

    The first keyframe holds from the start; at each step, once the current keyframe has had its guaranteed
    steps, the next keyframes whose start is reached take over (one with guaranteed steps stops the search).
    A keyframe starting before the run's first sigma guarantees nothing. Steps are the schedule's sigmas
    down to the current one.
    """
    if not keyframes:
        return 1.0
    starts = [percent_to_sigma(k.start_percent) for k in keyframes]
    levels = sorted({float(s) for s in (schedule or ()) if float(s) > sigma}, reverse=True) + [sigma]
    top = levels[0]

    def guaranteed(i: int) -> int:
        return 0 if starts[i] > top else keyframes[i].guarantee_steps

    index, used = 0, 0
    for level in levels:
        if used >= guaranteed(index):
            for i in range(index + 1, len(keyframes)):
                if starts[i] < level:
                    break
                index, used = i, 0
                if guaranteed(i) > 0:
                    break
        used += 1
    return keyframes[index].strength


def group_patches(target, hooks: Sequence[WeightHook], clip: bool, sigma: float | None = None,
                  schedule: Sequence[float] | None = None,
                  percent_to_sigma: Callable[[float], float] | None = None) -> tuple[Patch, ...]:
    """All patches of a hook group on `target`, each hook at its keyframe strength for `sigma` (the first
    keyframe's when not sampling)."""
    patches: list[Patch] = []
    for hook in hooks:
        if sigma is None or percent_to_sigma is None:
            multiplier = hook.keyframes[0].strength if hook.keyframes else 1.0
        else:
            multiplier = keyframe_strength(hook.keyframes, sigma, schedule, percent_to_sigma)
        if multiplier:
            patches.extend(hook.patches_for(target, clip, multiplier))
    return tuple(patches)


def place_hook_weights(model, hooks: Sequence[WeightHook] | None, sigma: float,
                       schedule: Sequence[float] | None) -> None:
    """Patch the placed UNet of sampling `model` with its MODEL's patches plus `hooks`' patches at `sigma`
    (none: the MODEL's own weights back). Only the patch set's changes cost anything."""
    target = getattr(model, "hook_target", None)
    if target is None:
        raise ValueError("conditioning carries HOOKS, but this model has no MODEL to patch (hooks need a "
                         "checkpoint's MODEL)")
    schedule = None if schedule is None else [float(s) for s in schedule]
    patches = group_patches(target, hooks or (), False, sigma, schedule, model.model_sampling.percent_to_sigma)
    target.handle.manager.load(target.handle.with_patches(patches))


def clip_schedule(hooks: Sequence[WeightHook]) -> list[tuple[float, float, tuple[float, ...]]]:
    """(start_percent, end_percent, keyframe multiplier of each hook) for each part of the run in which no
    hook's keyframe strength changes: a scheduled CLIP encodes once per part (SetClipHooks schedule_clip)."""
    bounds = sorted({0.0, 1.0, *(k.start_percent for h in hooks for k in h.keyframes)})
    parts = []
    for start, end in pairwise(bounds):
        strengths = tuple(_held_strength(h.keyframes, start) for h in hooks)
        if parts and parts[-1][2] == strengths:
            parts[-1] = (parts[-1][0], end, strengths)
        else:
            parts.append((start, end, strengths))
    return parts


def _held_strength(keyframes: Sequence[Keyframe], percent: float) -> float:
    """The strength of the last keyframe starting at or before `percent` (the first one before any)."""
    if not keyframes:
        return 1.0
    started = [k for k in keyframes if k.start_percent <= percent]
    return (started[-1] if started else keyframes[0]).strength
