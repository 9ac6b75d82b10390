"""What manual cast costs a UNet step on the CPU: fp16 weights, each heavy layer cast slice by slice or whole as
timed faster on this machine (the default, engine/chunked_cast.py), fp16 weights cast whole per layer, and fp32
weights (--no-manual-cast, the reference).

Full-size SD1.5 random weights (benchmarks/sd_unet.py) at batch 2 (a CFG step), Winograd on as the model
manager loads models. The three variants run in turn, `--repeats` rounds, so a busy machine weighs on all
alike; prints the median and the fastest call of each (wall and process CPU seconds) and the ratio to fp32.

    python benchmarks/manual_cast.py                  # 256², 6 rounds
    python benchmarks/manual_cast.py --size 512 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from benchmarks.sd_unet import UNETS, random_models
from engine.chunked_cast import set_chunked_cast
from engine.memory import use_cpu_kernels
from engine.memory_tiers import LayerStreamer

VARIANTS = ("fp16, cast as timed", "fp16, whole cast", "fp32 weights")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (latent side = size / 8)")
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()

    fp32 = use_cpu_kernels(random_models("sd15")[0])
    fp16 = use_cpu_kernels(random_models("sd15", torch.float16)[0])
    LayerStreamer(fp16, torch.device("cpu"), torch.device("cpu"), 1 << 62, compute_dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    side = args.size // 8
    inputs = (torch.randn(2, 4, side, side, generator=gen), torch.full((2,), 500.0),
              torch.randn(2, 77, UNETS["sd15"].context_dim, generator=gen))
    runs = {VARIANTS[0]: (fp16, True), VARIANTS[1]: (fp16, False), VARIANTS[2]: (fp32, True)}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    print(f"SD1.5 UNet CFG step (batch 2), {args.size}², torch {torch.__version__}, {torch.get_num_threads()} threads")
    with torch.inference_mode():
        outputs = {}
        for name, (model, sliced) in runs.items():  # warm-up, and the results to compare
            set_chunked_cast(sliced)
            outputs[name] = model(*inputs)
        for _ in range(args.repeats):
            for name, (model, sliced) in runs.items():
                set_chunked_cast(sliced)
                started, used = time.perf_counter(), time.process_time()
                model(*inputs)
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - used)
    set_chunked_cast(True)
    reference = statistics.median(wall[VARIANTS[2]])
    print(f"{'variant':<20} {'median s':>9} {'fastest s':>10} {'CPU s':>7} {'vs fp32':>8}")
    for name in runs:
        median = statistics.median(wall[name])
        print(f"{name:<20} {median:>9.3f} {min(wall[name]):>10.3f} {statistics.median(cpu[name]):>7.2f} "
              f"{median / reference:>8.3f}")
    scale = outputs[VARIANTS[2]].abs().max().item()
    for name in VARIANTS[:2]:
        print(f"{name}: max |difference| to fp32 weights {(outputs[name] - outputs[VARIANTS[2]]).abs().max():.2e} "
              f"(output scale {scale:.2f})")


if __name__ == "__main__":
    main()
