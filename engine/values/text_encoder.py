"""CLIP: the text-encoder value Loom's prompt nodes use, with ComfyUI's CLIP interface (tokenize,
encode_from_tokens, clone, clip_layer, add_patches, ...), so node packs call the same object.

Weights live in the model manager as one module (TextTowers); patches ride on the handle. ComfyUI names
text-encoder weights "clip_<tower>.transformer.text_model.<rest>"; add_patches maps them onto Loom's
"towers.<tower>.[text_model.]<rest>".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

import torch
from torch import nn

from engine.memory import ModelHandle, ModelManager
from engine.models.clip import CLIP
from engine.values.comfy_weight_patches import comfy_entry, loom_patch
from engine.weight_patches import Patch


class TextTowers(nn.Module):
    """A CLIP object's text towers as one managed module; the CLIP object (tokenizer, conventions) rides
    along and follows its towers wherever the manager moves them."""

    def __init__(self, clip: CLIP):
        super().__init__()
        self.towers = nn.ModuleDict(clip.modules)
        self.clip = clip


def loom_key(comfy_key: str, module_keys) -> str | None:
    """The Loom module key of a ComfyUI text-encoder key, or None when the towers have no such weight."""
    head, _, rest = comfy_key.partition(".transformer.")
    if not head.startswith("clip_") or not rest:
        return None
    tower = head.removeprefix("clip_")
    candidates = (f"towers.{tower}.{rest}", f"towers.{tower}.{rest.removeprefix('text_model.')}")
    return next((k for k in candidates if k in module_keys), None)


@dataclass(eq=False)
class TextEncoderModel:
    """CLIP: the text towers' handle, the clip-skip layer (None = the family's default), the HOOKS its
    encodings carry to the sampler (SetClipHooks' apply_to_conds) and the HOOKS whose keyframes schedule
    its encoding (schedule_clip: one encoding per part of the run)."""

    handle: ModelHandle
    layer_idx: int | None = None
    cond_hooks: tuple | None = None
    scheduled_hooks: tuple | None = None

    def with_layer(self, layer_idx: int | None) -> TextEncoderModel:
        return replace(self, layer_idx=layer_idx)

    def with_patches(self, patches: Iterable[Patch]) -> TextEncoderModel:
        return replace(self, handle=self.handle.with_patches(patches))

    # -- ComfyUI's CLIP interface ----------------------------------------------------------------

    def clone(self) -> TextEncoderModel:
        return replace(self)

    def clip_layer(self, layer_idx: int | None) -> None:
        """Stop at this hidden layer (-1 last, -2 penultimate, ...), in place as ComfyUI does."""
        self.layer_idx = layer_idx

    @property
    def cond_stage_model(self) -> TextTowers:
        """The text towers, placed on the compute device."""
        return self.handle.manager.load(self.handle)

    @property
    def tokenizer(self):
        return self.cond_stage_model.clip.tokenizer

    @property
    def patcher(self) -> TextEncoderModel:
        """ComfyUI keeps weight patches on a separate patcher; Loom's CLIP value is its own."""
        return self

    def tokenize(self, text: str, return_word_ids: bool = False, **kwargs) -> dict:
        """Prompt -> {tower: 77-token windows of (token, weight)} (weights and embeddings parsed)."""
        return self.cond_stage_model.clip.tokenize(text)

    def encode_from_tokens(self, tokens: dict, return_pooled: bool | str = False, return_dict: bool = False):
        """cond [1, 77*k, width], (cond, pooled) with return_pooled, or {"cond", "pooled_output"}."""
        with placed_clip(self.handle.manager, self) as encoder:
            cond, pooled = encoder.encode(tokens)
        if return_dict:
            return {"cond": cond, "pooled_output": pooled}
        return (cond, pooled) if return_pooled else cond

    def encode_from_tokens_scheduled(self, tokens: dict, unprojected: bool = False, add_dict: dict | None = None,
                                     show_pbar: bool = True) -> list:
        """CONDITIONING with one entry (Loom has no hook schedules on CLIP)."""
        encoded = self.encode_from_tokens(tokens, return_dict=True)
        return [[encoded.pop("cond"), {**encoded, **(add_dict or {})}]]

    def encode(self, text: str) -> torch.Tensor:
        return self.encode_from_tokens(self.tokenize(text))

    def add_patches(self, patches: dict, strength_patch: float = 1.0, strength_model: float = 1.0) -> list:
        """ComfyUI's add_patches with its key names; keys the towers lack are skipped. Returns the keys added."""
        shapes = self.handle.module_shapes()
        added, new = [], []
        for item, value in patches.items():
            key, offset, function = (item, None, None) if isinstance(item, str) else (*item, None)[:3]
            module_key = loom_key(key, shapes)
            if module_key is None:
                continue
            added.append(item)
            new.append(loom_patch(module_key, value, strength_patch, strength_model, offset, function))
        if new:
            self.handle = self.handle.with_patches(new)
        return added

    def get_key_patches(self) -> dict[str, list]:
        """{Loom key: [entry, ...]} of the weight patches on this CLIP."""
        out: dict[str, list] = {}
        for patch in self.handle.patches:
            out.setdefault(patch.key, []).append(comfy_entry(patch))
        return out

    def get_sd(self) -> dict[str, torch.Tensor]:
        return dict(self.handle.source_tensors())

    def load_sd(self, sd: dict, full_model: bool = False):
        raise NotImplementedError("CLIP.load_sd: Loom's CLIP weights come from model files through its model "
                                  "manager; load the file with a CLIP loader node (or comfy.sd.load_clip)")


@contextmanager
def placed_clip(manager: ModelManager, clip: TextEncoderModel) -> Iterator[CLIP]:
    """The CLIP object with its towers on the compute device and this value's clip skip."""
    with manager.use(clip.handle) as towers:
        yield towers.clip.with_layer(clip.layer_idx)
