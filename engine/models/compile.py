"""Optional torch.compile of the UNet and VAE forwards: the `--torch-compile` flag (a Loom flag; ComfyUI's
launcher has none).

Off by default because on the CPUs Loom is measured on it does not pay back within a run: compiling the
graph takes minutes on two cores and saves a few percent per step (figures in benchmarks/profile_ops.py's
closing note). Worth trying on long batches or where compile time is amortised across many runs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

_enabled = False


def set_torch_compile(enabled: bool) -> None:
    """Compile the UNet and VAE forwards from their next call on (process-wide)."""
    global _enabled
    _enabled = enabled


def torch_compile_enabled() -> bool:
    return _enabled


def compiled(owner: nn.Module, name: str, fn: Callable) -> Callable:
    """`fn` as is, or, with the flag on, its torch.compile'd form, compiled once and kept on `owner` under
    `name` (one model may compile several entry points: the VAE's decoder and encoder)."""
    if not _enabled:
        return fn
    cache = owner.__dict__.setdefault("_loom_compiled", {})
    if name not in cache:
        cache[name] = torch.compile(fn)
    return cache[name]
