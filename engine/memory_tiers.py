"""Where model weights can live, as an explicit list: compute device -> host RAM -> disk.

The model manager moves weights one tier down when a tier is over its budget and up to the top tier when a
node computes with them. A tier names a torch device and a budget, nothing more, so every move between
tiers runs (and is tested) on a CPU-only machine with a 'device' tier that is the CPU. A model larger than
the top tier's budget runs partially loaded: `LayerStreamer` keeps the layers that fit on the device and
brings each other layer there only for its own forward.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from engine.chunked_cast import casts_in_chunks, chunked_cast_layers, records_grad

DISK = "disk"
GIB = 1 << 30


@dataclass(frozen=True)
class Tier:
    """One place for weights: `name` is the location handles report; `device` None means on disk."""

    name: str
    device: torch.device | None
    budget: int


def default_tiers(device: torch.device, device_budget: int, ram_budget: int) -> list[Tier]:
    """[device, host, disk]; on a CPU-only run the device is the host, so [host, disk]."""
    host = Tier("cpu", torch.device("cpu"), ram_budget)
    disk = Tier(DISK, None, 1 << 62)
    if device.type == "cpu":
        return [host, disk]
    return [Tier(str(device), device, device_budget), host, disk]


def measured_ram_budget() -> int:
    """80% of the RAM available now (MemAvailable), the default `--ram-budget`."""
    try:
        import psutil

        available = psutil.virtual_memory().available
    except ImportError:
        meminfo = Path("/proc/meminfo").read_text()
        available = int(re.search(r"MemAvailable:\s+(\d+) kB", meminfo).group(1)) * 1024
    return int(available * 0.8)


def measured_vram_budget(device: torch.device) -> int:
    """Free device memory now, less a reserve for activations (the larger of 1 GiB and 10%)."""
    free, total = torch.cuda.mem_get_info(device)
    return max(0, free - max(GIB, total // 10))


def _own_tensors(module: nn.Module) -> list[torch.Tensor]:
    return [*module.parameters(recurse=False), *module.buffers(recurse=False)]


def _nbytes(module: nn.Module, dtype: torch.dtype | None = None) -> int:
    """Bytes of the module's own tensors, as stored or (floating ones) once cast to `dtype`."""
    def size(t: torch.Tensor) -> int:
        cast = dtype is not None and t.is_floating_point()
        return t.numel() * (torch.empty((), dtype=dtype).element_size() if cast else t.element_size())
    return sum(size(t) for t in _own_tensors(module))


def compute_dtype(module: nn.Module) -> torch.dtype:
    """The dtype `module` computes in: the LayerStreamer's while one is attached to it (fp16 weights computing
    in fp32), else its first weight's. Forward code casts inputs to this, never to a weight's own dtype, which
    under manual cast would round them to fp16."""
    if hasattr(module, "loom_compute"):
        return module.loom_compute[1]
    return next((t.dtype for t in module.parameters() if t.is_floating_point()), torch.float32)


def _castable(tensor: torch.Tensor, dtype: torch.dtype) -> bool:
    """A floating tensor in another dtype, laid out densely (plain or channels-last), can be cast into scratch."""
    dense = tensor.is_contiguous() or (tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last))
    return tensor.is_floating_point() and tensor.dtype != dtype and dense


@contextmanager
def _cast_threads(device: torch.device) -> Iterator[None]:
    """One CPU thread for the casts: they are bound by memory bandwidth, which one core nearly fills, and a
    two-thread copy waits on whichever thread the OS has descheduled (measured on a busy 2-core machine: the
    whole SD1.5 UNet cast in 0.28 s on one thread, 1.0-3.7 s on two)."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _shares(tensor: torch.Tensor, buffer: torch.Tensor) -> bool:
    return tensor.untyped_storage().data_ptr() == buffer.untyped_storage().data_ptr()


class LayerStreamer:
    """Per-layer weights: partial loading and manual cast, with one mechanism (the module's `loom_compute`
    says where and in which dtype it computes while attached).

    The leading layers that fit in `budget` stay on `device`; every other layer (a module with weights of its
    own) stays on `host`. With `compute_dtype` (manual cast: weights kept in the checkpoint's fp16/bf16,
    computed in fp32) every layer is hooked, else only the streamed ones. For the length of a hooked layer's
    forward its own tensors are swapped for copies on `device` in `compute_dtype` (and so are its floating
    inputs); the originals come back after it. `budget` covers the resident layers plus the largest copy
    (the most ever added at once); `peak_bytes` records the most that was, on any device.

    Manual cast writes a layer's copies into one reused scratch buffer: a fresh allocation per layer and step
    faults in new pages every time (the allocator maps and unmaps large blocks), which costs more than the
    cast. An embedding table is not cast: its lookup reads a few rows, which are cast on the way out (exact).
    A resident linear or convolution layer whose weight outweighs its input on the CPU is not cast either: it
    casts its weight slice by slice inside its own forward (engine/chunked_cast.py).
    """

    def __init__(self, module: nn.Module, device: torch.device, host: torch.device, budget: int,
                 compute_dtype: torch.dtype | None = None):
        self.module, self.device, self.host, self.budget = module, device, host, budget
        self.compute_dtype = compute_dtype
        layers = [m for m in module.modules() if _own_tensors(m)]
        largest = max((_nbytes(m, compute_dtype) for m in layers), default=0)
        if largest > budget:
            raise MemoryError(f"the largest layer ({largest} bytes) does not fit the device budget ({budget})")
        sizes = list(itertools.accumulate(_nbytes(m) for m in layers))
        fitting = sum(1 for total in sizes if total <= budget - largest)
        resident, self.streamed = layers[:fitting], layers[fitting:]
        self.resident_bytes = sizes[fitting - 1] if fitting else 0
        self.footprint = self.resident_bytes + largest
        first = next(module.parameters(), None)
        module.loom_compute = (device, compute_dtype or (first.dtype if first is not None else torch.float32))
        self.peak_bytes = self.resident_bytes
        self._in_flight = 0
        self._streamed = set(self.streamed)
        self._originals: dict[nn.Module, tuple[list[tuple[dict, str, torch.Tensor]], int]] = {}
        self._scratch_numel = max((sum(t.numel() for t in _own_tensors(m) if t.is_floating_point())
                                   for m in layers), default=0)
        self._scratch: torch.Tensor | None = None
        self._scratch_owner: nn.Module | None = None
        for layer in resident:
            layer.to(device)
        for layer in self.streamed:
            layer.to(host)
        if compute_dtype is not None:
            chunked_cast_layers(module)
        hooked = layers if compute_dtype is not None else self.streamed
        self._hooks = [h for layer in hooked for h in (
            layer.register_forward_pre_hook(self._arrive, with_kwargs=True),
            layer.register_forward_hook(self._leave))]

    def _convert(self, value, keep_dtype: bool = False):
        if not isinstance(value, torch.Tensor):
            return value
        cast = self.compute_dtype is not None and value.is_floating_point() and not keep_dtype
        return value.to(self.device, self.compute_dtype if cast else value.dtype)

    def _claim_scratch(self, layer: nn.Module) -> torch.Tensor | None:
        """The scratch buffer for `layer`'s copies, or None while a layer around it holds it."""
        if self.compute_dtype is None or self._scratch_owner is not None:
            return None
        if self._scratch is None:
            self._scratch = torch.empty(self._scratch_numel, dtype=self.compute_dtype, device=self.device)
        self._scratch_owner = layer
        return self._scratch

    def _arrive(self, layer: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        if layer in self._originals:  # its last forward raised before _leave ran
            self._leave(layer, (), None)
        if layer not in self._streamed and args and casts_in_chunks(layer, args[0]):
            self._originals[layer] = ([], 0)
            return args, kwargs
        gather = isinstance(layer, nn.Embedding)
        scratch = None if gather or records_grad(layer, (*args, *kwargs.values())) else self._claim_scratch(layer)
        swapped, offset = [], 0
        with _cast_threads(self.device):
            for store in (layer._parameters, layer._buffers):
                for name, original in store.items():
                    if original is None:
                        continue
                    if scratch is not None and _castable(original, self.compute_dtype):
                        copy = scratch.as_strided(original.shape, original.stride(), offset).copy_(original)
                        offset += original.numel()
                    else:
                        copy = self._convert(original, keep_dtype=gather)
                    if copy is not original:
                        store[name] = copy
                        swapped.append((store, name, original))
        added = _nbytes(layer, self.compute_dtype) if swapped or layer in self._streamed else 0
        self._originals[layer] = (swapped, added)
        self._in_flight += added
        self.peak_bytes = max(self.peak_bytes, self.resident_bytes + self._in_flight)
        return tuple(self._convert(a) for a in args), {k: self._convert(v) for k, v in kwargs.items()}

    def _leave(self, layer: nn.Module, args: tuple, output):
        swapped, added = self._originals.pop(layer, ([], 0))
        for store, name, original in swapped:
            store[name] = original
        self._in_flight -= added
        if isinstance(output, torch.Tensor) and isinstance(layer, nn.Embedding):
            return self._convert(output)
        if self._scratch_owner is layer:
            self._scratch_owner = None
            if isinstance(output, torch.Tensor) and _shares(output, self._scratch):
                return output.clone()  # a forward that returns its own weight must not see the next layer's
        return output

    @property
    def streamed_count(self) -> int:
        return len(self.streamed)

    def detach(self) -> None:
        """Remove the hooks and put every layer on the host (the model leaves the device)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        self._scratch = None
        del self.module.loom_compute
        self.module.to(self.host)
