"""ComfyUI's `comfy.hooks`: the hook classes (scheduled LoRA / weight / wrapper hooks on conditioning) packs
import. Loom does not schedule hooks inside a sampler run yet: the classes can be built and combined,
and applying them (the functions below) raises NotImplementedError."""

from __future__ import annotations

import enum
from typing import Any


class EnumHookMode(enum.Enum):
    MinVram = "minvram"
    MaxSpeed = "maxspeed"


class EnumHookType(enum.Enum):
    Weight = "weight"
    ObjectPatch = "object_patch"
    AdditionalModels = "add_models"
    TransformerOptions = "transformer_options"
    Injections = "add_injections"


class EnumWeightTarget(enum.Enum):
    Model = "model"
    Clip = "clip"


class Hook:
    """One hook: a type, a strength and the keyframes that schedule it."""

    def __init__(self, hook_type: EnumHookType = EnumHookType.Weight, hook_ref: Any = None, hook_id: Any = None,
                 hook_keyframe: Any = None):
        self.hook_type, self.hook_ref, self.hook_id = hook_type, hook_ref, hook_id
        self.hook_keyframe = hook_keyframe or HookKeyframeGroup()
        self.strength = 1.0


class WeightHook(Hook):
    def __init__(self, strength_model: float = 1.0, strength_clip: float = 1.0):
        super().__init__(EnumHookType.Weight)
        self.strength_model, self.strength_clip, self.weights, self.weights_clip = strength_model, strength_clip, None, None


class ObjectPatchHook(Hook):
    def __init__(self, object_patches: dict | None = None):
        super().__init__(EnumHookType.ObjectPatch)
        self.object_patches = object_patches or {}


class AdditionalModelsHook(Hook):
    def __init__(self, models: list | None = None, key: str | None = None):
        super().__init__(EnumHookType.AdditionalModels)
        self.models, self.key = models or [], key


class TransformerOptionsHook(Hook):
    def __init__(self, transformers_dict: dict | None = None, hook_scope: Any = None):
        super().__init__(EnumHookType.TransformerOptions)
        self.transformers_dict, self.hook_scope = transformers_dict or {}, hook_scope


WrapperHook = TransformerOptionsHook


class InjectionsHook(Hook):
    def __init__(self, key: str | None = None, injections: list | None = None):
        super().__init__(EnumHookType.Injections)
        self.key, self.injections = key, injections or []


class HookGroup:
    """A list of hooks applied together."""

    def __init__(self) -> None:
        self.hooks: list[Hook] = []

    def add(self, hook: Hook) -> None:
        if hook not in self.hooks:
            self.hooks.append(hook)

    def clone(self) -> HookGroup:
        other = HookGroup()
        other.hooks = list(self.hooks)
        return other

    def __len__(self) -> int:
        return len(self.hooks)

    @staticmethod
    def combine_all_hooks(groups: list, require_count: int = 0) -> HookGroup | None:
        groups = [g for g in groups if g is not None]
        if not groups:
            return None
        combined = HookGroup()
        for group in groups:
            for hook in group.hooks:
                combined.add(hook)
        return combined


class HookKeyframe:
    """A hook strength from a point of the sampling run (start_percent) on."""

    def __init__(self, strength: float, start_percent: float = 0.0, guarantee_steps: int = 1):
        self.strength, self.start_percent, self.guarantee_steps = strength, start_percent, guarantee_steps


class HookKeyframeGroup:
    """A hook's keyframes, ordered by start_percent."""

    def __init__(self) -> None:
        self.keyframes: list[HookKeyframe] = []

    def add(self, keyframe: HookKeyframe) -> None:
        self.keyframes.append(keyframe)
        self.keyframes.sort(key=lambda k: k.start_percent)

    def clone(self) -> HookKeyframeGroup:
        other = HookKeyframeGroup()
        other.keyframes = list(self.keyframes)
        return other


def _not_scheduled(name: str) -> None:
    raise NotImplementedError(f"comfy.hooks.{name}: Loom does not apply ComfyUI hooks during sampling yet")


def set_hooks_for_conditioning(cond: list, hooks: HookGroup, append_hooks: bool = True, cache: Any = None) -> list:
    _not_scheduled("set_hooks_for_conditioning")


def set_conds_props_and_combine(conds: list, new_conds: list, strength: float = 1.0, set_cond_area: Any = None,
                                mask: Any = None, hooks: Any = None, timesteps_range: Any = None) -> list:
    _not_scheduled("set_conds_props_and_combine")


def set_default_conds_and_combine(conds: list, new_conds: list, hooks: Any = None, timesteps_range: Any = None) -> list:
    _not_scheduled("set_default_conds_and_combine")


def load_hook_lora_for_models(model: Any, clip: Any, lora: dict, strength_model: float, strength_clip: float) -> tuple:
    _not_scheduled("load_hook_lora_for_models")
