"""Where the CPU time goes: torch.profiler on one CFG UNet step and one VAE decode of full-size SD1.5.

Uses the full-size random weights of benchmarks/sd_unet.py (fp32, in memory), warms each model up once,
then profiles one UNet forward at batch 2 (cond + uncond, as a CFG step runs) and one VAE decode, and
prints the top operators by self CPU time (name, calls, self ms, share of the profiled total).

    python benchmarks/profile_ops.py                 # 256², top 10
    python benchmarks/profile_ops.py --size 512 --top 15
    python benchmarks/profile_ops.py --compile      # also: --torch-compile's compile time and payback
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.sd_unet import UNETS, random_models
from engine.memory import use_cpu_kernels
from engine.models.compile import set_torch_compile
from engine.winograd import set_winograd


def top_operators(run: Callable[[], object], top: int) -> tuple[float, list[tuple[str, int, float, float]]]:
    """Profile one call of `run`; returns (wall seconds, [(op, calls, self ms, % of self total)])."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        run()
        wall = time.perf_counter() - start
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return wall, [(e.key, e.count, e.self_cpu_time_total / 1e3, 100 * e.self_cpu_time_total / total) for e in ranked]


def _timed_s(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def compile_payback(name: str, run: Callable[[], object], repeats: int) -> None:
    """Eager vs `--torch-compile` for `run` (eager already warm): the first compiled call (compile time
    included), then eager and compiled calls alternating so a busy machine weighs on both alike."""
    set_torch_compile(True)
    first = _timed_s(run)
    eager, compiled = [], []
    for _ in range(repeats):
        set_torch_compile(False)
        eager.append(_timed_s(run))
        set_torch_compile(True)
        compiled.append(_timed_s(run))
    set_torch_compile(False)
    eager_s, compiled_s = statistics.median(eager), statistics.median(compiled)
    gain = eager_s - compiled_s
    payback = f"pays back after {(first - compiled_s) / gain:.0f} calls" if gain > 0 else "never pays back"
    print(f"{name}: eager {eager_s:.3f} s, compiled {compiled_s:.3f} s ({compiled_s / eager_s:.3f}x, medians), "
          f"first compiled call {first:.1f} s: {payback}")


def print_table(title: str, wall: float, rows: list[tuple[str, int, float, float]]) -> None:
    print(f"\n{title}: {wall:.2f} s wall (profiled)")
    print(f"{'operator':<44} {'calls':>6} {'self ms':>10} {'%':>6}")
    for name, calls, ms, share in rows:
        print(f"{name[:44]:<44} {calls:>6} {ms:>10.1f} {share:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (latent side = size / 8)")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also time --torch-compile on the UNet (minutes on 2 cores)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per variant with --compile")
    parser.add_argument("--no-winograd", action="store_true", help="direct 3x3 convolutions, as --no-winograd")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads or torch.get_num_threads())
    unet, vae = (use_cpu_kernels(model) for model in random_models("sd15"))  # as the model manager loads them
    set_winograd(not args.no_winograd)
    side = args.size // 8
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, side, side, generator=gen)
    context = torch.randn(2, 77, UNETS["sd15"].context_dim, generator=gen)
    timesteps = torch.full((2,), 500.0)
    latent = torch.randn(1, 4, side, side, generator=gen)
    convolution = "direct" if args.no_winograd else "winograd"
    print(f"SD1.5 full-size random fp32, {convolution} 3x3 convolutions, {args.size}², torch {torch.__version__}, {torch.get_num_threads()} threads")
    with torch.inference_mode():
        step = lambda: unet(x, timesteps, context)
        decode = lambda: vae.decode(latent)
        for name, run in (("UNet CFG step (batch 2)", step), ("VAE decode (batch 1)", decode)):
            run()
            print_table(f"{name}, {args.size}²", *top_operators(run, args.top))
        if args.compile:
            print()
            compile_payback(f"UNet CFG step {args.size}²", step, args.repeats)


if __name__ == "__main__":
    main()
