"""The model manager: where each model's weights live (disk, CPU RAM, the compute device).

Weights stay on disk (memory-mapped) until a node needs them, move to the compute device when a node runs
them, and are offloaded least-recently-used first, one tier down the explicit list of engine.memory_tiers
(device -> host RAM -> disk, re-read on demand), when a tier's budget would be exceeded. A model larger
than the device budget runs partially loaded (its layers streamed onto the device). Patches (LoRA and
friends) ride on handles and are applied on placement. Hosts build it from flags with launch.compute_flags
and put it in `Services.models`.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from engine.chunked_cast import chunked_cast_layers
from engine.graph import context as graph_context
from engine.graph.events import Event
from engine.heap_trim import trim_heap
from engine.memory_dtypes import DtypePolicy, held_bytes, tensor_specs
from engine.memory_tiers import (
    DISK,
    LayerStreamer,
    Tier,
    compute_dtype,
    default_tiers,
    measured_ram_budget,
    measured_vram_budget,
)
from engine.weight_patches import Patch, apply_patches, restore_weights, same_patches
from engine.winograd import use_winograd


@dataclass(eq=False)
class _Slot:
    """One set of weights (a checkpoint component) and where it currently lives."""

    key: str
    name: str
    kind: str
    build: Callable[[], nn.Module] | None
    state_dict: Callable[[], Mapping[str, torch.Tensor]]
    load: Callable[[Mapping[str, torch.Tensor]], nn.Module] | None = None
    module: nn.Module | None = None
    location: str = DISK
    size: int = 0
    applied: tuple[Patch, ...] = ()
    backups: dict[str, torch.Tensor] = field(default_factory=dict)
    pins: int = 0
    last_used: int = 0
    manager: ModelManager | None = None
    streamer: LayerStreamer | None = None

    @property
    def resident_bytes(self) -> int:
        """Bytes held at `location` (a partially loaded model: the device budget it streams within)."""
        if self.streamer is not None:
            return self.streamer.footprint
        return self.size + sum(_nbytes(t) for t in self.backups.values())


class ModelHandle:
    """A cheap reference to managed weights plus the patches to apply when they are placed.

    Socket values (MODEL, CLIP, VAE) hold handles; copying a handle with more patches never copies weights.
    """

    __slots__ = ("patches", "slot")

    def __init__(self, slot: _Slot, patches: tuple[Patch, ...] = ()):
        self.slot = slot
        self.patches = patches

    @property
    def name(self) -> str:
        return self.slot.name

    @property
    def key(self) -> str:
        return self.slot.key

    @property
    def location(self) -> str:
        return self.slot.location

    @property
    def manager(self) -> ModelManager:
        """The manager that places these weights (MODEL values ask it for the placed module)."""
        return self.slot.manager

    def source_tensors(self) -> Mapping[str, torch.Tensor]:
        """The unpatched weights by module key: the placed module's (originals where patched), else the
        weights' source, read on access."""
        slot = self.slot
        if slot.module is None:
            return slot.state_dict()
        return {k: slot.backups.get(k, t) for k, t in slot.module.state_dict().items()}

    def with_patches(self, patches: Iterable[Patch]) -> ModelHandle:
        """A new handle on the same weights with `patches` appended to this handle's patches."""
        return ModelHandle(self.slot, self.patches + tuple(Patch(*p) for p in patches))

    def module_shapes(self) -> dict[str, torch.Size]:
        """Names and shapes of the module's own weights (the keys patches use), without reading any data:
        from the placed module, else from a skeleton built on the meta device."""
        slot = self.slot
        if slot.module is not None:
            return {k: v.shape for k, v in slot.module.state_dict().items()}
        if slot.build is not None:
            with torch.device("meta"):
                skeleton = slot.build()
        else:
            skeleton = slot.load({k: torch.empty(s, device="meta") for k, s in _shapes(slot.state_dict()).items()})
        return {k: v.shape for k, v in skeleton.state_dict().items()}

    def held_dtype(self) -> torch.dtype:
        """The dtype the weights are (or, once placed, will be) held in: the storage dtype of the first
        floating tensor, which under manual cast differs from the dtype they compute in."""
        slot = self.slot
        if slot.module is not None:
            return next(t.dtype for t in slot.module.parameters() if t.is_floating_point())
        stored = next(d for _, d in tensor_specs(slot.state_dict()).values() if d.is_floating_point)
        return slot.manager.policy.storage(stored, slot.kind)

    def __repr__(self) -> str:
        return f"ModelHandle({self.name!r}, {self.location}, patches={len(self.patches)})"


def weight_dtype(module: nn.Module) -> tuple[torch.device, torch.dtype]:
    """Where and in which dtype a placed module computes."""
    if hasattr(module, "loom_compute"):
        return module.loom_compute
    return next(module.parameters()).device, compute_dtype(module)


def file_key(path: str | os.PathLike, component: str) -> str:
    """Cache key of one component of a model file: the same file, unchanged on disk, gives the same key."""
    resolved = Path(path).resolve()
    return f"{resolved}|{resolved.stat().st_mtime_ns}|{component}"


class ModelManager:
    """Loads, places, patches and offloads models under a device budget and a RAM budget."""

    def __init__(self, device: str | torch.device | None = None, vram_budget: int | None = None,
                 ram_budget: int | None = None, precision: str = "auto",
                 on_event: Callable[[Event], None] | None = None, tiers: list[Tier] | None = None,
                 manual_cast: bool | None = None):
        """`tiers` (top first, disk last) replaces the list the device and budgets describe; its top tier's
        device is where models compute. `manual_cast` keeps fp16/bf16 checkpoints in their storage dtype and
        computes each layer in the dtype dtype_for gives (fp32 on CPU): about half the weight memory. None
        (the default) turns it on where the device lacks fast half precision and no precision is forced;
        see engine.memory_dtypes."""
        if tiers is None:
            device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
            ram = ram_budget if ram_budget is not None else measured_ram_budget()
            vram = ram if device.type == "cpu" else (
                vram_budget if vram_budget is not None else measured_vram_budget(device))
            tiers = default_tiers(device, vram, ram)
        if tiers[-1].device is not None or any(t.device is None for t in tiers[:-1]):
            raise ValueError("tiers must end with the disk tier (device None) and have no other")
        self.tiers = tiers
        self.device = tiers[0].device
        self.policy = DtypePolicy.create(self.device, precision, manual_cast)
        self.precision, self.manual_cast = self.policy.precision, self.policy.manual_cast
        self.vram_budget = tiers[0].budget
        self.ram_budget = next((t.budget for t in tiers if t.name == "cpu"), tiers[0].budget)
        self._slots: dict[str, _Slot] = {}
        self._listeners: list[Callable[[Event], None]] = [on_event] if on_event else []
        self._lock = threading.RLock()
        self._clock = itertools.count(1)

    @property
    def device_location(self) -> str:
        return self.tiers[0].name

    def _tier_index(self, location: str) -> int:
        return next(i for i, t in enumerate(self.tiers) if t.name == location)

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """Also send model_load / model_offload events to `listener` (they always go to the running node)."""
        self._listeners.append(listener)

    def handle(self, key: str, *, name: str, state_dict: Callable[[], Mapping[str, torch.Tensor]],
               build: Callable[[], nn.Module] | None = None,
               load: Callable[[Mapping[str, torch.Tensor]], nn.Module] | None = None,
               kind: str = "model") -> ModelHandle:
        """The handle for `key` (see file_key); created on first request, then shared across prompts.

        `state_dict()` returns the weights, ideally memory-mapped. Either `build()` constructs the module
        (under the meta device unless it has non-persistent buffers) and the manager assigns the weights,
        or `load(state_dict)` returns the module with its weights. Nothing is read here.
        """
        if (build is None) == (load is None):
            raise ValueError(f"model {name!r}: give exactly one of build= and load=")
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                self._forget_stale(key)
                slot = self._slots[key] = _Slot(key, name, kind, build, state_dict, load, manager=self)
            return ModelHandle(slot)

    def dtype_for(self, kind: str) -> torch.dtype:
        """The dtype models of `kind` compute in (engine.memory_dtypes.DtypePolicy.compute)."""
        return self.policy.compute(kind)

    def load(self, handle: ModelHandle) -> nn.Module:
        """Place the model on the compute device with the handle's patches applied, and return it."""
        with self._lock:
            slot = handle.slot
            self._place(slot, self.device_location)
            self._sync_patches(slot, handle.patches)
            slot.last_used = next(self._clock)
            return slot.module

    @contextmanager
    def use(self, handle: ModelHandle) -> Iterator[nn.Module]:
        """Load the model and keep it from being offloaded until the block ends."""
        with self._lock:
            module = self.load(handle)
            handle.slot.pins += 1
        try:
            yield module
        finally:
            with self._lock:
                handle.slot.pins -= 1
                ended = handle.slot.pins == 0
            if ended and self.device.type == "cpu":
                trim_heap()  # the run's freed activations, back to the system before the next model's run

    def offload(self, handle: ModelHandle) -> None:
        """Move the model one step down: device -> CPU (or dropped when there is no room or no GPU)."""
        with self._lock:
            self._demote(handle.slot)

    def unload(self, handle: ModelHandle) -> None:
        """Drop the model's weights; the next use reads them from disk again."""
        with self._lock:
            self._drop(handle.slot)

    def unload_all(self) -> None:
        """Drop every model that is not in use (POST /free)."""
        with self._lock:
            for slot in list(self._slots.values()):
                if slot.pins == 0:
                    self._drop(slot)

    def free_device_memory(self, keep: Iterable[ModelHandle] = ()) -> None:
        """Offload every unpinned model on the compute device except `keep` (to retry after an OOM)."""
        kept = {h.slot.key for h in keep}
        with self._lock:
            for slot in list(self._slots.values()):
                if slot.location == self.device_location and slot.pins == 0 and slot.key not in kept:
                    self._demote(slot)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def used(self, location: str) -> int:
        """Bytes of model weights (and patch backups) held at `location`."""
        return sum(s.resident_bytes for s in self._slots.values() if s.location == location)

    def summary(self) -> list[dict]:
        """Each known model: name, where it lives and its size (for /system_stats and logs)."""
        return [
            {"model": s.name, "kind": s.kind, "location": s.location, "bytes": s.resident_bytes}
            for s in self._slots.values()
        ]

    # -- placement -------------------------------------------------------------------------------

    def _budget(self, location: str) -> int:
        return self.tiers[self._tier_index(location)].budget

    def _place(self, slot: _Slot, target: str) -> None:
        if slot.location == target:
            return
        tier, source = self.tiers[self._tier_index(target)], slot.location
        dtype = self.dtype_for(slot.kind)
        weights = slot.state_dict() if source == DISK else None
        needed = slot.size if weights is None else held_bytes(weights, self.policy, slot.kind)
        self._make_room(target, needed, keep=slot)
        host = self.tiers[1] if tier is self.tiers[0] and self.tiers[1].device is not None else None
        if needed > tier.budget and host is not None:
            self._stream(slot, tier, host, weights, dtype)
            return
        if weights is not None:
            self._materialize(slot, weights, tier.device)
        else:
            slot.module.to(tier.device)
        if tier is self.tiers[0] and _stored_otherwise(slot.module, dtype):
            slot.streamer = LayerStreamer(slot.module, tier.device, tier.device, 1 << 62, compute_dtype=dtype)
        slot.location = target
        self._emit("model_load", slot, source=source, to=target, dtype=str(dtype).removeprefix("torch."),
                   over_budget=self.used(target) > self._budget(target))

    def _stream(self, slot: _Slot, tier: Tier, host: Tier, weights, dtype: torch.dtype) -> None:
        """Partial loading: the model is larger than the device budget, so it computes from the host with
        as many layers resident on the device as the room left allows and the others streamed in."""
        source = slot.location
        if weights is not None:
            self._make_room(host.name, held_bytes(weights, self.policy, slot.kind), keep=slot)
            self._materialize(slot, weights, host.device)
        room = max(0, tier.budget - self.used(tier.name))
        cast = dtype if _stored_otherwise(slot.module, dtype) else None
        slot.streamer = LayerStreamer(slot.module, tier.device, host.device, room, compute_dtype=cast)
        slot.location = tier.name
        self._emit("model_load", slot, source=source, to=tier.name, dtype=str(dtype).removeprefix("torch."),
                   over_budget=False, streamed_layers=slot.streamer.streamed_count)

    def _materialize(self, slot: _Slot, weights: Mapping[str, torch.Tensor], device: torch.device) -> None:
        """Give the slot its module, each floating tensor held in the dtype the policy gives it."""
        slot.module = _materialize(slot, weights, device, lambda dtype: self.policy.storage(dtype, slot.kind))
        slot.size = _module_bytes(slot.module)

    def _unstream(self, slot: _Slot) -> None:
        if slot.streamer is not None:
            slot.streamer.detach()
            slot.streamer = None

    def _make_room(self, location: str, needed: int, keep: _Slot) -> None:
        while self.used(location) + needed > self._budget(location):
            victims = [s for s in self._slots.values()
                       if s.location == location and s.pins == 0 and s is not keep]
            if not victims:
                return
            self._demote(min(victims, key=lambda s: s.last_used))

    def _demote(self, slot: _Slot) -> None:
        """Move the weights to the first lower tier with room (made by demoting its LRU models); the
        disk tier means dropping them."""
        index = self._tier_index(slot.location)
        for lower in self.tiers[index + 1:]:
            if lower.device is None:
                self._drop(slot)
                return
            self._make_room(lower.name, slot.size, keep=slot)
            if self.used(lower.name) + slot.size <= lower.budget:
                if index == 0:
                    self._restore(slot)
                self._unstream(slot)
                slot.module.to(lower.device)
                source, slot.location = slot.location, lower.name
                self._emit("model_offload", slot, source=source, to=lower.name)
                return

    def _drop(self, slot: _Slot) -> None:
        if slot.location == DISK:
            return
        source = slot.location
        slot.module, slot.location, slot.applied, slot.backups, slot.streamer = None, DISK, (), {}, None
        if source != "cpu" and self.device.type == "cuda":
            torch.cuda.empty_cache()
        self._emit("model_offload", slot, source=source, to=DISK)

    def _forget_stale(self, key: str) -> None:
        """A file changed on disk: drop the weights cached for its previous version."""
        parts = key.rsplit("|", 2)
        if len(parts) != 3:
            return
        for old_key, slot in list(self._slots.items()):
            old = old_key.rsplit("|", 2)
            if len(old) == 3 and (old[0], old[2]) == (parts[0], parts[2]) and slot.pins == 0:
                self._drop(slot)
                del self._slots[old_key]

    def _sync_patches(self, slot: _Slot, patches: tuple[Patch, ...]) -> None:
        if same_patches(slot.applied, patches):
            return
        self._restore(slot)
        slot.backups, slot.applied = apply_patches(slot.module, patches, slot.name), patches
        if patches:
            self._emit("model_patch", slot, patches=len(patches), weights=len(slot.backups))

    def restore(self, handle: ModelHandle) -> None:
        """Put the handle's weights back to their unpatched values (ComfyUI's unpatch_model)."""
        with self._lock:
            self._restore(handle.slot)

    def _restore(self, slot: _Slot) -> None:
        if slot.backups:
            restore_weights(slot.module, slot.backups)
        slot.backups, slot.applied = {}, ()

    def _emit(self, event_type: str, slot: _Slot, **data) -> None:
        event = Event(event_type, {"model": slot.name, "kind": slot.kind, "bytes": slot.size, **data})
        for listener in self._listeners:
            listener(event)
        ctx = graph_context.current()
        if ctx is not None:
            ctx.emit(event)


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _module_bytes(module: nn.Module) -> int:
    return sum(_nbytes(t) for t in itertools.chain(module.parameters(), module.buffers()))


def _shapes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Size]:
    """Shapes without reading tensor data when the source can list them (engine.models LazyStateDict)."""
    if hasattr(state_dict, "shapes"):
        return {k: torch.Size(v) for k, v in state_dict.shapes().items()}
    return {k: v.shape for k, v in state_dict.items()}


def _stored_otherwise(module: nn.Module, dtype: torch.dtype) -> bool:
    """Whether some floating weight of `module` is held in another dtype than `dtype` (manual cast)."""
    tensors = itertools.chain(module.parameters(), module.buffers())
    return any(t.is_floating_point() and t.dtype != dtype for t in tensors)


def _materialize(slot: _Slot, state_dict: Mapping[str, torch.Tensor], device: torch.device,
                 held: Callable[[torch.dtype], torch.dtype]) -> nn.Module:
    """Build the module and give it the weights on `device`, a floating tensor stored as d held as held(d).

    Built on the meta device and handed the tensors themselves: a memory-mapped tensor already in the dtype
    it is held in becomes the parameter without a copy (the file's pages are the weights). Only a module
    with non-persistent buffers, which only a real construction computes, is built for real.
    """
    def place(t: torch.Tensor) -> torch.Tensor:
        return t.to(device, held(t.dtype) if t.is_floating_point() else t.dtype)

    if slot.load is not None:
        module = slot.load(state_dict)
    else:
        with torch.device("meta"):
            module = slot.build()
        if any(m._non_persistent_buffers_set for m in module.modules()):
            module = slot.build()
        module.load_state_dict({k: place(v) for k, v in state_dict.items()}, strict=True, assign=True)
    return use_cpu_kernels(module._apply(place).requires_grad_(False).eval())


def use_cpu_kernels(module: nn.Module) -> nn.Module:
    """Give the module's plain layers the CPU kernels Loom picks per call (in place; elsewhere they compute as
    before): Winograd 3×3 convolutions, and linear layers that cast half weights slice by slice or multiply
    fp32 by oneDNN (engine/winograd.py, engine/chunked_cast.py, engine/onednn_linear.py)."""
    return chunked_cast_layers(use_winograd(module))
