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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

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


def _nbytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in _own_tensors(module))


class LayerStreamer:
    """Partial loading: the leading layers that fit in `budget` stay on `device`; every other layer (a
    module with weights of its own) lives on `host` and is moved to `device` for its forward, then back.

    `budget` covers the resident layers plus the largest streamed one (the most ever on the device at once);
    `peak_bytes` records the most that was, so a test can hold it against the budget on any device.
    """

    def __init__(self, module: nn.Module, device: torch.device, host: torch.device, budget: int):
        self.module, self.device, self.host, self.budget = module, device, host, budget
        layers = [m for m in module.modules() if _own_tensors(m)]
        largest = max((_nbytes(m) for m in layers), default=0)
        if largest > budget:
            raise MemoryError(f"the largest layer ({largest} bytes) does not fit the device budget ({budget})")
        room = budget - largest
        sizes = list(itertools.accumulate(_nbytes(m) for m in layers))
        fitting = sum(1 for total in sizes if total <= room)
        self.resident, self.streamed = layers[:fitting], layers[fitting:]
        self.resident_bytes = sizes[fitting - 1] if fitting else 0
        self.peak_bytes = self.resident_bytes
        self._in_flight = 0
        for layer in self.resident:
            layer.to(device)
        for layer in self.streamed:
            layer.to(host)
        self._hooks = [h for layer in self.streamed for h in (layer.register_forward_pre_hook(self._arrive),
                                                               layer.register_forward_hook(self._leave))]

    def _arrive(self, layer: nn.Module, args: tuple) -> tuple:
        layer.to(self.device)
        self._in_flight += _nbytes(layer)
        self.peak_bytes = max(self.peak_bytes, self.resident_bytes + self._in_flight)
        return tuple(a.to(self.device) if isinstance(a, torch.Tensor) else a for a in args)

    def _leave(self, layer: nn.Module, args: tuple, output):
        layer.to(self.host)
        self._in_flight -= _nbytes(layer)
        return output

    @property
    def streamed_count(self) -> int:
        return len(self.streamed)

    def detach(self) -> None:
        """Remove the hooks and put every layer on the host (the model leaves the device)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        self.module.to(self.host)
