"""Optional torch.compile of the UNet forward: the `--torch-compile` flag (a Loom flag; ComfyUI's launcher
has none).

Off by default: measured both ways with benchmarks/profile_ops.py --compile (full-size SD1.5 CFG step,
256², 2-core machine), it does not pay back within a run. Two idle threads: 2.29 s eager, 3.15 s compiled,
37 s of compiling (never pays back). One thread on a busy machine: 5.51 s eager, 4.44 s compiled, 101 s of
compiling (pays back after ~90 steps). The VAE is not compiled: its decode measured slower compiled (256²,
one thread: 6.27 s eager, 7.39 s compiled). The fused kernels round differently from eager (max |diff|
1.3e-6 on the tiny test UNet), so exact pixel parity with ComfyUI is not promised under the flag.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

_enabled = False


def set_torch_compile(enabled: bool) -> None:
    """Compile the UNet forward from its next call on (process-wide)."""
    global _enabled
    _enabled = enabled


def torch_compile_enabled() -> bool:
    return _enabled


def compiled(owner: nn.Module, name: str, fn: Callable) -> Callable:
    """`fn` as is, or, with the flag on, its torch.compile'd form, compiled once and kept on `owner` under
    `name` (a model may compile more than one entry point)."""
    if not _enabled:
        return fn
    cache = owner.__dict__.setdefault("_loom_compiled", {})
    if name not in cache:
        cache[name] = torch.compile(fn)
    return cache[name]
