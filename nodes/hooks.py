"""ComfyUI's hook nodes (nodes_hooks): make HOOKS (a LoRA or a whole checkpoint used as a LoRA, applied only
to the conditioning that carries them), combine them, schedule them with HOOK_KEYFRAMES, and set them on a
CLIP. The hooks themselves and their scheduling are engine.sampling.hooks.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Annotated, Literal

import torch
from pydantic import Field, create_model

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.models.lora.apply import lora_patches, read_lora
from engine.models.lora.keys import clip_names, unet_names
from engine.sampling.hooks import Keyframe, WeightHook, add_keyframes, clip_schedule, combine_hooks
from engine.weight_patches import Patch
from nodes.loaders import load_checkpoint
from nodes.model_files import file_version, folders_of, model_files

CREATE, SCHEDULING = "advanced/hooks/create", "advanced/hooks/scheduling"
HOOKS = Annotated[object, Socket("HOOKS")]
KEYFRAMES = Annotated[object, Socket("HOOK_KEYFRAMES")]
HookStrength = Annotated[float, Widget(step=0.01)]
STRENGTH = Field(1.0, ge=-20.0, le=20.0)
Percent = Annotated[float, Widget(step=0.001)]
log = logging.getLogger(__name__)


def _lora_maker(lora, clip: bool):
    """make_patches for one side of a LoRA file: its modules mapped onto the target's weight keys."""

    def make(target, strength: float) -> tuple[Patch, ...]:
        shapes = target.handle.module_shapes()
        names = clip_names(shapes) if clip else unet_names(target.config.unet, shapes)
        return tuple(lora_patches(lora, names, shapes, strength, clip)[0])

    return make


def _model_maker(source):
    """make_patches adding strength x (source weight - the target's own unpatched weight) to every weight the
    target shares (same key and shape) with `source` (ComfyUI's model_as_lora: at strength 1 the source's
    weights, plus whatever other patches the target carries)."""

    def make(target, strength: float) -> tuple[Patch, ...]:
        weights, own = source.handle.source_tensors(), target.handle.source_tensors()
        return tuple(Patch(k, weights[k].float() - t.float(), strength) for k, t in own.items()
                     if k in weights and weights[k].shape == t.shape)

    return make


def _added(prev_hooks, hook: WeightHook):
    return combine_hooks([prev_hooks, (hook,)])


class _LoraHook(Node):
    def run(self, ctx):
        strength_clip = getattr(self, "strength_clip", 0.0)
        if self.strength_model == 0 and strength_clip == 0:
            return (self.prev_hooks,)
        lora = read_lora(folders_of(ctx).find("loras", self.lora_name))
        if not lora.adapters:
            raise ValueError(f"{type(self).__name__}: lora_name {self.lora_name!r} holds no LoRA tensors")
        hook = WeightHook(self.lora_name, _lora_maker(lora, False),
                          _lora_maker(lora, True) if hasattr(self, "strength_clip") else None,
                          self.strength_model, strength_clip)
        return (_added(self.prev_hooks, hook),)

    @classmethod
    def is_changed(cls, lora_name: str) -> str:
        return file_version("loras", lora_name)


class _ModelAsLoraHook(Node):
    def run(self, ctx):
        model, clip, _ = load_checkpoint(ctx, type(self).__name__, self.ckpt_name)
        with_clip = hasattr(self, "strength_clip")
        hook = WeightHook(self.ckpt_name, _model_maker(model), _model_maker(clip) if with_clip else None,
                          self.strength_model, getattr(self, "strength_clip", 0.0))
        return (_added(self.prev_hooks, hook),)

    @classmethod
    def is_changed(cls, ckpt_name: str) -> str:
        return file_version("checkpoints", ckpt_name)


def _hook_node(base: type[Node], name: str, display_name: str, file_input: str, folder: str,
               with_clip: bool) -> type[Node]:
    fields = {file_input: (Annotated[str, model_files(folder, f"A file in models/{folder}.")], ...),
              "strength_model": (HookStrength, STRENGTH)}
    if with_clip:
        fields["strength_clip"] = (HookStrength, STRENGTH)
    fields["prev_hooks"] = (HOOKS, None)
    cls = create_model(name, __base__=base, __module__=__name__, __doc__=base.__doc__, **fields)
    return node(cls, category=CREATE, display_name=display_name, experimental=True, outputs=[Out("HOOKS")])


_LoraHook.__doc__ = "A hook applying a LoRA to the model (and CLIP) of the conditioning that carries it."
_ModelAsLoraHook.__doc__ = "A hook moving the model (and CLIP) weights towards another checkpoint's."
CreateHookLora = _hook_node(_LoraHook, "CreateHookLora", "Create Hook LoRA", "lora_name", "loras", True)
CreateHookLoraModelOnly = _hook_node(_LoraHook, "CreateHookLoraModelOnly", "Create Hook LoRA (MO)", "lora_name",
                                     "loras", False)
CreateHookModelAsLora = _hook_node(_ModelAsLoraHook, "CreateHookModelAsLora", "Create Hook Model as LoRA",
                                   "ckpt_name", "checkpoints", True)
CreateHookModelAsLoraModelOnly = _hook_node(_ModelAsLoraHook, "CreateHookModelAsLoraModelOnly",
                                            "Create Hook Model as LoRA (MO)", "ckpt_name", "checkpoints", False)


class _CombineHooks(Node):
    """All given hooks in one HOOKS value, each once."""

    def run(self, ctx):
        return (combine_hooks(getattr(self, name) for name in type(self).model_fields),)


def _combine_node(count: int) -> type[Node]:
    names = [f"hooks_{chr(ord('A') + i)}" for i in range(count)]
    cls = create_model(f"CombineHooks{count}", __base__=_CombineHooks, __module__=__name__,
                       __doc__=_CombineHooks.__doc__, **dict.fromkeys(names, (HOOKS, None)))
    return node(cls, category="advanced/hooks/combine", display_name=f"Combine Hooks [{count}]", experimental=True,
                outputs=[Out("HOOKS")])


CombineHooks2, CombineHooks4, CombineHooks8 = (_combine_node(n) for n in (2, 4, 8))


@node(category=SCHEDULING, display_name="Set Hook Keyframes", experimental=True, outputs=[Out("HOOKS")])
class SetHookKeyframes(Node):
    """Schedule every hook of `hooks` with the keyframes (replacing their own)."""

    hooks: HOOKS
    hook_kf: KEYFRAMES = None

    def run(self, ctx):
        if self.hook_kf is None or self.hooks is None:
            return (self.hooks,)
        return (tuple(h.with_keyframes(tuple(self.hook_kf)) for h in self.hooks),)


@node(category=SCHEDULING, display_name="Create Hook Keyframe", experimental=True,
      outputs=[Out("HOOK_KEYFRAMES", "HOOK_KF")])
class CreateHookKeyframe(Node):
    """A keyframe: from start_percent on, hook strengths are multiplied by strength_mult."""

    strength_mult: HookStrength = STRENGTH
    start_percent: Percent = Field(0.0, ge=0.0, le=1.0)
    prev_hook_kf: KEYFRAMES = None

    def run(self, ctx):
        return (add_keyframes(tuple(self.prev_hook_kf or ()), [Keyframe(self.strength_mult, self.start_percent)]),)


def _spread(strengths: list[float], start: float, end: float, prev, show: bool) -> tuple[Keyframe, ...]:
    """Keyframes at evenly spaced percents from start to end; only the first guarantees a step (logged when
    `show`, the nodes' print_keyframes)."""
    percents = torch.linspace(start, end, len(strengths)).tolist()
    new = [Keyframe(float(s), p, 1 if i == 0 else 0) for i, (p, s) in enumerate(zip(percents, strengths))]
    if show:
        for keyframe in new:
            log.info("Hook Keyframe - start_percent:%s = %s", keyframe.start_percent, keyframe.strength)
    return add_keyframes(tuple(prev or ()), new)


EASINGS = {"linear": lambda t: t, "ease_in": lambda t: t ** 2, "ease_out": lambda t: 1 - (1 - t) ** 2,
           "ease_in_out": lambda t: (1 - torch.cos(t * torch.pi)) / 2}


@node(category=SCHEDULING, display_name="Create Hook Keyframes Interp.", experimental=True,
      outputs=[Out("HOOK_KEYFRAMES", "HOOK_KF")])
class CreateHookKeyframesInterpolated(Node):
    """keyframes_count keyframes from strength_start to strength_end (eased) between the two percents."""

    strength_start: Annotated[float, Widget(step=0.001)] = Field(1.0, ge=0.0, le=10.0)
    strength_end: Annotated[float, Widget(step=0.001)] = Field(1.0, ge=0.0, le=10.0)
    interpolation: Literal["linear", "ease_in", "ease_out", "ease_in_out"]
    start_percent: Percent = Field(0.0, ge=0.0, le=1.0)
    end_percent: Percent = Field(1.0, ge=0.0, le=1.0)
    keyframes_count: Annotated[int, Widget(step=1)] = Field(5, ge=2, le=100)
    print_keyframes: bool = False
    prev_hook_kf: KEYFRAMES = None

    def run(self, ctx):
        t = EASINGS[self.interpolation](torch.linspace(0, 1, self.keyframes_count, dtype=torch.float64))
        strengths = (self.strength_start + (self.strength_end - self.strength_start) * t).tolist()
        return (_spread(strengths, self.start_percent, self.end_percent, self.prev_hook_kf, self.print_keyframes),)


@node(category=SCHEDULING, display_name="Create Hook Keyframes From Floats", experimental=True,
      outputs=[Out("HOOK_KEYFRAMES", "HOOK_KF")])
class CreateHookKeyframesFromFloats(Node):
    """One keyframe per float, spread evenly between the two percents."""

    floats_strength: Annotated[object, Socket("FLOATS", default=-1, min=-1, step=0.001, forceInput=True)]
    start_percent: Percent = Field(0.0, ge=0.0, le=1.0)
    end_percent: Percent = Field(1.0, ge=0.0, le=1.0)
    print_keyframes: bool = False
    prev_hook_kf: KEYFRAMES = None

    def run(self, ctx):
        values = self.floats_strength
        if isinstance(values, (int, float)):
            values = [float(values)]
        elif isinstance(values, torch.Tensor):
            values = values.flatten().tolist()
        else:
            try:
                values = [float(v) for v in values]
            except TypeError as e:
                raise TypeError(f"CreateHookKeyframesFromFloats: floats_strength must be a float or a list of "
                                f"floats, got {type(values).__name__}") from e
        return (_spread(values, self.start_percent, self.end_percent, self.prev_hook_kf, self.print_keyframes),)


@node(category="advanced/hooks/clip", display_name="Set CLIP Hooks", experimental=True, outputs=[Out("CLIP")])
class SetClipHooks(Node):
    """Encode with the hooks' CLIP weights; with apply_to_conds the encodings also carry the hooks to the
    sampler. With schedule_clip a prompt is encoded once per keyframe part of the run (each entry limited to
    its part); without it the keyframes are ignored when encoding."""

    clip: Annotated[object, Socket("CLIP")]
    apply_to_conds: bool = True
    schedule_clip: bool = False
    hooks: HOOKS = None

    def run(self, ctx):
        if self.hooks is None:
            return (self.clip,)
        cond_hooks = self.hooks if self.apply_to_conds else self.clip.cond_hooks
        if self.schedule_clip:
            return (replace(self.clip, cond_hooks=cond_hooks, scheduled_hooks=self.hooks),)
        patches = [p for hook in self.hooks for p in hook.patches_for(self.clip, True, 1.0)]
        return (replace(self.clip.with_patches(patches), cond_hooks=cond_hooks),)


def scheduled_clips(clip) -> list[tuple[object, dict]]:
    """(CLIP to encode with, timestep range of its encoding): the CLIP itself, or, when hooks schedule its
    encoding, one patched CLIP per part of the run in which the hooks' strengths hold."""
    hooks = getattr(clip, "scheduled_hooks", None)
    if not hooks:
        return [(clip, {})]
    return [(clip.with_patches([p for hook, m in zip(hooks, strengths) for p in hook.patches_for(clip, True, m)]),
             {"clip_start_percent": start, "clip_end_percent": end})
            for start, end, strengths in clip_schedule(hooks)]
