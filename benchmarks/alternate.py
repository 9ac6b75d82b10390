"""Two ways of one computation, timed in one process with the same inputs, for the CPU kernel benchmarks
(winograd_conv.py, onednn_linear.py): each way's best time, and whole models run both ways alternately so that
a busy machine weighs on both alike."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import torch


def best_s(run: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` calls of `run`, after one to warm up."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def both_ways(title: str, run: Callable[[], torch.Tensor], repeats: int, switch: Callable[[bool], None],
              names: tuple[str, str]) -> None:
    """`run` after switch(False) and switch(True), alternately; prints each way's best seconds, the ratio
    and the largest difference between their outputs. Leaves the switch on."""
    times, outputs = {True: [], False: []}, {}
    with torch.inference_mode():
        for _ in range(repeats):
            for on in (False, True):
                switch(on)
                start = time.perf_counter()
                outputs[on] = run()
                times[on].append(time.perf_counter() - start)
    switch(True)
    diff = (outputs[True] - outputs[False]).abs().max().item()
    off, on = min(times[False]), min(times[True])
    print(f"{title}: {names[0]} {off:.2f} s, {names[1]} {on:.2f} s, ratio {on / off:.3f}, max |diff| {diff:.1e}",
          flush=True)


def run_benchmark(doc: str, available: bool, missing: str, layers: Callable[[int], None],
                  models: Callable[[list[int], int], None]) -> None:
    """The command line of a kernel benchmark: --sizes (image sides of the whole-model runs), --repeats and
    --no-models (only the per-layer table); exits with `missing` where the kernel is not `available`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-models", action="store_true", help="only the per-layer table")
    args = parser.parse_args()
    if not available:
        sys.exit(missing)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    layers(args.repeats)
    if not args.no_models:
        models(args.sizes, args.repeats)
