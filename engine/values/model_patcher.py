"""MODEL: the denoising UNet value every node passes around, with ComfyUI's ModelPatcher interface, so node
packs written for ComfyUI call the same methods on Loom's own objects (one object model, DESIGN.md §9).

A ModelPatcher is light: a handle on weights held by the model manager (its weight patches ride on the
handle and are applied when the manager places the UNet, undone bit-exactly), the checkpoint config, and
ComfyUI's `model_options` (attention / block patches in "transformer_options", the unet function wrapper,
cfg hooks) that Loom's UNet and sampler honour at ComfyUI's call points. `clone()` never copies weights.
"""

from __future__ import annotations

import copy
import inspect
import uuid
from collections.abc import Callable, Iterable

import torch

from engine.memory import ModelHandle
from engine.models.detect import CheckpointConfig
from engine.values.base_model import DIFFUSION_PREFIX, BaseModel
from engine.values.comfy_weight_patches import comfy_entry, loom_patch, unconverted
from engine.weight_patches import Patch

ON_CLONE = "on_clone"  # ComfyUI's CallbacksMP.ON_CLONE: callback(original, clone)


class ModelPatcher:
    """MODEL (ComfyUI's comfy.model_patcher.ModelPatcher interface over a managed UNet)."""

    def __init__(self, handle: ModelHandle, config: CheckpointConfig, model_options: dict | None = None,
                 model: BaseModel | None = None):
        self.handle, self.config = handle, config
        self.model = model or BaseModel(handle, config)
        self.model_options: dict = {"transformer_options": {}, **(model_options or {})}
        self.object_patches: dict = {}
        self.parent: ModelPatcher | None = None
        self.patches_uuid = uuid.uuid4()
        self.attachments: dict = {}

    # -- identity and copies -------------------------------------------------------------------

    def clone(self) -> ModelPatcher:
        """A new MODEL on the same weights; its patches and options change independently of this one."""
        other = ModelPatcher(self.handle, self.config, copy.deepcopy(self.model_options), self.model)
        other.object_patches = dict(self.object_patches)
        other.attachments = dict(self.attachments)
        other.patches_uuid, other.parent = self.patches_uuid, self
        for callback in self.get_all_callbacks(ON_CLONE):
            callback(self, other)
        return other

    def is_clone(self, other) -> bool:
        return getattr(other, "model", None) is self.model

    def clone_has_same_weights(self, other) -> bool:
        return self.is_clone(other) and self.handle.patches == other.handle.patches

    def with_patches(self, patches: Iterable[Patch]) -> ModelPatcher:
        """A clone with more Loom weight patches (e.g. a LoRA); no weights are copied."""
        other = self.clone()
        other.handle = self.handle.with_patches(patches)
        other.patches_uuid = uuid.uuid4()
        return other

    def with_options(self, **options) -> ModelPatcher:
        """A clone with model_options entries set (e.g. a sampler_cfg_function)."""
        other = self.clone()
        other.model_options.update(options)
        return other

    # -- devices and sizes ---------------------------------------------------------------------

    @property
    def load_device(self) -> torch.device:
        return self.handle.manager.device

    @property
    def offload_device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def size(self) -> int:
        return self.model_size()

    def model_size(self) -> int:
        """Bytes of the UNet's weights in the dtype they are held in."""
        element = torch.empty((), dtype=self.model_dtype()).element_size()
        return self.model.parameter_count() * element

    def loaded_size(self) -> int:
        return self.model_size() if self.handle.location == str(self.load_device) else 0

    def memory_required(self, input_shape) -> float:
        return self.model.memory_required(input_shape)

    def model_dtype(self) -> torch.dtype:
        return self.model.get_dtype()

    def current_loaded_device(self) -> torch.device:
        return torch.device("cpu" if self.handle.location in ("cpu", "disk") else self.handle.location)

    # -- weight patches ------------------------------------------------------------------------

    @property
    def patches(self) -> dict[str, list]:
        """ComfyUI's view of the weight patches: {"diffusion_model.<key>": [entry, ...]}."""
        out: dict[str, list] = {}
        for patch in self.handle.patches:
            out.setdefault(DIFFUSION_PREFIX + patch.key, []).append(comfy_entry(patch))
        return out

    def add_patches(self, patches: dict, strength_patch: float = 1.0, strength_model: float = 1.0) -> list:
        """ComfyUI's add_patches: keys "diffusion_model.<key>" (or (key, offset[, function]) tuples); keys
        the UNet does not have are skipped. Returns the keys that were added."""
        shapes = self.handle.module_shapes()
        added, new = [], []
        for item, value in patches.items():
            key, offset, function = (item, None, None) if isinstance(item, str) else (*item, None)[:3]
            module_key = key.removeprefix(DIFFUSION_PREFIX)
            if not key.startswith(DIFFUSION_PREFIX) or module_key not in shapes:
                continue
            added.append(item)
            new.append(loom_patch(module_key, value, strength_patch, strength_model, offset, function))
        if new:
            self.handle = self.handle.with_patches(new)
            self.patches_uuid = uuid.uuid4()
        return added

    def model_state_dict(self, filter_prefix: str | None = None) -> dict[str, torch.Tensor]:
        state = self.model.state_dict()
        return {k: v for k, v in state.items() if filter_prefix is None or k.startswith(filter_prefix)}

    def get_key_patches(self, filter_prefix: str | None = None) -> dict[str, list]:
        """{key: [(unpatched weight, convert fn), entry, ...]} as ComfyUI's model merging reads it."""
        patches = self.patches
        return {k: [(w, unconverted)] + patches.get(k, [])
                for k, w in self.model_state_dict(filter_prefix).items()}

    def patch_model(self, device_to=None, lowvram_model_memory: int = 0, load_weights: bool = True,
                    force_patch_weights: bool = False) -> BaseModel:
        """Place the UNet on the compute device with this MODEL's weight patches applied."""
        self.handle.manager.load(self.handle)
        return self.model

    def unpatch_model(self, device_to=None, unpatch_weights: bool = True) -> None:
        """Restore the original weights (bit-exact), and move them to `device_to` when it is the CPU."""
        if unpatch_weights:
            self.handle.manager.restore(self.handle)
        if device_to is not None and torch.device(device_to).type == "cpu":
            self.handle.manager.offload(self.handle)

    # -- object patches ------------------------------------------------------------------------

    def add_object_patch(self, name: str, obj) -> None:
        self.object_patches[name] = obj

    def get_model_object(self, name: str):
        """An attribute of the BaseModel by dotted path ("model_sampling", "diffusion_model.input_blocks.1"),
        object patches first."""
        if name in self.object_patches:
            return self.object_patches[name]
        value = self.model
        for part in name.split("."):
            value = value[int(part)] if part.isdigit() and hasattr(value, "__getitem__") else getattr(value, part)
        return value

    def set_model_compute_dtype(self, dtype: torch.dtype | None) -> None:
        self.add_object_patch("manual_cast_dtype", dtype)

    # -- model_options: ComfyUI's patch registry -----------------------------------------------

    def set_model_patch(self, patch: Callable, name: str) -> None:
        to = self.model_options["transformer_options"]
        to.setdefault("patches", {})
        to["patches"][name] = to["patches"].get(name, []) + [patch]

    def set_model_patch_replace(self, patch: Callable, name: str, block_name: str, number: int,
                                transformer_index: int | None = None) -> None:
        self.model_options = set_model_options_patch_replace(self.model_options, patch, name, block_name, number,
                                                             transformer_index)

    def set_model_attn1_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "attn1_patch")

    def set_model_attn2_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "attn2_patch")

    def set_model_attn1_replace(self, patch, block_name, number, transformer_index=None) -> None:
        self.set_model_patch_replace(patch, "attn1", block_name, number, transformer_index)

    def set_model_attn2_replace(self, patch, block_name, number, transformer_index=None) -> None:
        self.set_model_patch_replace(patch, "attn2", block_name, number, transformer_index)

    def set_model_attn1_output_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "attn1_output_patch")

    def set_model_attn2_output_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "attn2_output_patch")

    def set_model_input_block_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "input_block_patch")

    def set_model_input_block_patch_after_skip(self, patch: Callable) -> None:
        self.set_model_patch(patch, "input_block_patch_after_skip")

    def set_model_middle_block_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "middle_block_patch")

    def set_model_output_block_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "output_block_patch")

    def set_model_emb_patch(self, patch: Callable) -> None:
        self.set_model_patch(patch, "emb_patch")

    def set_model_unet_function_wrapper(self, unet_wrapper_function: Callable) -> None:
        self.model_options["model_function_wrapper"] = unet_wrapper_function

    def set_model_denoise_mask_function(self, denoise_mask_function: Callable) -> None:
        self.model_options["denoise_mask_function"] = denoise_mask_function

    def set_model_sampler_cfg_function(self, sampler_cfg_function: Callable,
                                       disable_cfg1_optimization: bool = False) -> None:
        """ComfyUI accepts the old 3-argument form fn(cond, uncond, cond_scale) too."""
        if len(inspect.signature(sampler_cfg_function).parameters) == 3:
            old = sampler_cfg_function
            sampler_cfg_function = lambda args: old(args["cond"], args["uncond"], args["cond_scale"])
        self.model_options["sampler_cfg_function"] = sampler_cfg_function
        if disable_cfg1_optimization:
            self.model_options["disable_cfg1_optimization"] = True

    def set_model_sampler_post_cfg_function(self, post_cfg_function: Callable,
                                            disable_cfg1_optimization: bool = False) -> None:
        self.model_options = set_model_options_post_cfg_function(self.model_options, post_cfg_function,
                                                                 disable_cfg1_optimization)

    def set_model_sampler_pre_cfg_function(self, pre_cfg_function: Callable,
                                           disable_cfg1_optimization: bool = False) -> None:
        self.model_options = set_model_options_pre_cfg_function(self.model_options, pre_cfg_function,
                                                                disable_cfg1_optimization)

    # -- wrappers and callbacks (ComfyUI's patcher_extension registries) ------------------------

    @property
    def wrappers(self) -> dict:
        """{wrapper type: {key: [fn, ...]}}, kept in transformer_options so every call sees them."""
        return self.model_options["transformer_options"].get("wrappers", {})

    @property
    def callbacks(self) -> dict:
        return self.model_options["transformer_options"].get("callbacks", {})

    def _registry(self, kind: str, item_type: str, key: str | None) -> list:
        table = self.model_options["transformer_options"].setdefault(kind, {})
        return table.setdefault(item_type, {}).setdefault(key, [])

    def add_wrapper_with_key(self, wrapper_type: str, key: str, wrapper: Callable) -> None:
        self._registry("wrappers", wrapper_type, key).append(wrapper)

    def add_wrapper(self, wrapper_type: str, wrapper: Callable) -> None:
        self.add_wrapper_with_key(wrapper_type, None, wrapper)

    def remove_wrappers_with_key(self, wrapper_type: str, key: str) -> None:
        self.wrappers.get(wrapper_type, {}).pop(key, None)

    def get_wrappers(self, wrapper_type: str, key: str) -> list:
        return self.wrappers.get(wrapper_type, {}).get(key, [])

    def get_all_wrappers(self, wrapper_type: str) -> list:
        return [fn for fns in self.wrappers.get(wrapper_type, {}).values() for fn in fns]

    def add_callback_with_key(self, call_type: str, key: str, callback: Callable) -> None:
        self._registry("callbacks", call_type, key).append(callback)

    def add_callback(self, call_type: str, callback: Callable) -> None:
        self.add_callback_with_key(call_type, None, callback)

    def remove_callbacks_with_key(self, call_type: str, key: str) -> None:
        self.callbacks.get(call_type, {}).pop(key, None)

    def get_callbacks(self, call_type: str, key: str) -> list:
        return self.callbacks.get(call_type, {}).get(key, [])

    def get_all_callbacks(self, call_type: str) -> list:
        return [fn for fns in self.callbacks.get(call_type, {}).values() for fn in fns]

    def model_patches_to(self, device) -> None:
        """Move patch objects that hold tensors (they have `.to`) to `device`, as ComfyUI does before a run."""
        to = self.model_options["transformer_options"]
        for patch_list in to.get("patches", {}).values():
            patch_list[:] = [p.to(device) if hasattr(p, "to") else p for p in patch_list]
        for table in to.get("patches_replace", {}).values():
            for block, p in table.items():
                table[block] = p.to(device) if hasattr(p, "to") else p

    def model_patches_models(self) -> list:
        """Further models the patches need placed (patch objects with a `models()` method)."""
        to = self.model_options["transformer_options"]
        found = [p for patch_list in to.get("patches", {}).values() for p in patch_list]
        found += [p for table in to.get("patches_replace", {}).values() for p in table.values()]
        return [m for p in found if hasattr(p, "models") for m in p.models()]

    def __repr__(self) -> str:
        return f"ModelPatcher({self.handle!r}, family={self.config.family})"


def set_model_options_patch_replace(model_options: dict, patch: Callable, name: str, block_name: str, number: int,
                                    transformer_index: int | None = None) -> dict:
    """ComfyUI's helper: a replace patch for one attention, keyed by block (and transformer index); the
    nested dicts are copied so the caller's options (e.g. another clone's) are left as they were."""
    to = dict(model_options["transformer_options"])
    to["patches_replace"] = dict(to.get("patches_replace", {}))
    to["patches_replace"][name] = dict(to["patches_replace"].get(name, {}))
    block = (block_name, number) if transformer_index is None else (block_name, number, transformer_index)
    to["patches_replace"][name][block] = patch
    model_options["transformer_options"] = to
    return model_options


def _append_cfg_function(model_options: dict, key: str, fn: Callable, disable_cfg1_optimization: bool) -> dict:
    model_options[key] = model_options.get(key, []) + [fn]
    if disable_cfg1_optimization:
        model_options["disable_cfg1_optimization"] = True
    return model_options


def set_model_options_post_cfg_function(model_options: dict, post_cfg_function: Callable,
                                        disable_cfg1_optimization: bool = False) -> dict:
    return _append_cfg_function(model_options, "sampler_post_cfg_function", post_cfg_function,
                                disable_cfg1_optimization)


def set_model_options_pre_cfg_function(model_options: dict, pre_cfg_function: Callable,
                                       disable_cfg1_optimization: bool = False) -> dict:
    return _append_cfg_function(model_options, "sampler_pre_cfg_function", pre_cfg_function,
                                disable_cfg1_optimization)
