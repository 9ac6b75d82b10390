"""The fastest of interchangeable kernels for a shape, timed on this machine the first time the shape is seen.

Which CPU kernel wins depends on the CPU more than on the shape. NNPACK's Winograd F(6×6, 3×3) convolution took
0.3-0.7x oneDNN's time for SD1.5's 32×32 layers on a 2-core AVX2 Zen 1 and 1.4-1.5x on a 2-core AVX-512 Zen 5,
where oneDNN's direct kernels are twice as wide (benchmarks/winograd_conv.py on each): rules tuned on one
machine cost the other up to half a layer's time. So the first call of each shape runs every candidate ROUNDS
times on its own input, in turns, and the shape keeps the one with the least time for the rest of the process
(a UNet's or VAE's first call at a new size pays it: SD1.5's first CFG UNet call took 3.9 s against 1.4-1.5 s
at 256², 11.3 s against 5.3 s at 512², on 2 Zen 5 cores). Given a file (`remember_in`; the server and CLI keep
the user folder's kernel_choices.json), the choices outlive the process: later processes on the same CPU,
torch and thread count pay nothing and take the same kernels.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

log = logging.getLogger(__name__)

ROUNDS = 2  # the first run of a kernel can pay one-time costs (its workspace, page faults): the best run counts
CLEAR_WIN = 0.75  # ... unless one kernel took at most this share of every other's time in the first round

_chosen: dict[str, str] = {}
_lock = threading.Lock()
_store: Path | None = None


@functools.cache
def machine() -> str:
    """What a choice holds for: the CPU's model, torch's version and the instruction set its kernels use."""
    model = ""
    try:
        with open("/proc/cpuinfo") as info:
            fields = dict(line.split(":", 1) for line in info if ":" in line)
        model = " ".join(fields.get(k, "").strip() for k in ("model name", "cpu family", "model"))
    except OSError:  # not Linux
        pass
    return f"{model or os.name}; torch {torch.__version__}; {torch.backends.cpu.get_cpu_capability()}"


def remember_in(path: Path | None) -> None:
    """Keep the choices in the JSON file `path` across processes (None: in this process only); the file's
    choices load now where it was written on this machine (`machine`), else it is rewritten."""
    global _store
    _store = path
    if path is None or not path.is_file():
        return
    try:
        saved = json.loads(path.read_text())
        if saved.get("machine") == machine():
            with _lock:
                _chosen.update({str(k): str(v) for k, v in saved.get("choices", {}).items()})
    except (OSError, ValueError, AttributeError) as exc:
        log.warning("kernel choices in %s not read (%s): timing anew", path, exc)


def _save() -> None:
    global _store
    if _store is None:
        return
    with _lock:
        text = json.dumps({"machine": machine(), "choices": _chosen}, indent=1, sort_keys=True)
    try:
        partial = _store.with_name(f"{_store.name}.{os.getpid()}.tmp")
        partial.write_text(text)
        partial.replace(_store)  # whole or not at all, for a process reading it at once
    except OSError as exc:
        log.warning("kernel choices not saved to %s (%s): kept in this process only", _store, exc)
        _store = None


def shape_key(kind: str, *tensors: torch.Tensor) -> str:
    """The key of a choice for these tensors' shapes and the current thread count (a kernel's speed depends on
    both), e.g. "conv3x3 2x320x32x32 320x320x3x3 threads 2"."""
    shapes = " ".join("x".join(map(str, tensor.shape)) for tensor in tensors)
    return f"{kind} {shapes} threads {torch.get_num_threads()}"


def fastest(key: str, runs: Callable[[], dict[str, Callable[[], object]]]) -> str:
    """The name of the quickest of the calls `runs()` makes (the same result, computed each way) for `key`: timed
    the first time `key` is seen, remembered after (`runs` is called only then)."""
    with _lock:
        name = _chosen.get(key)
    if name is None:
        spent = timings(runs())
        name = min(spent, key=spent.__getitem__)
        with _lock:
            name = _chosen.setdefault(key, name)  # another thread may have timed it meanwhile: the first one stands
        _save()
    return name


def timings(runs: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Each run's least wall time over ROUNDS rounds (interleaved, so a slower spell of the machine hits all),
    or over the first alone where it has a clear winner."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(ROUNDS):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
        first, second = sorted(best.values())[:2]
        if first <= CLEAR_WIN * second:
            break
    return best


def chosen() -> dict[str, str]:
    """Every shape timed (or loaded) so far and its kernel's name."""
    with _lock:
        return dict(_chosen)


def forget() -> None:
    """Time every shape anew (tests that pin or time choices start from none)."""
    with _lock:
        _chosen.clear()
