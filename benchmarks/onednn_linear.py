"""fp32 linear layers by oneDNN's inner product (engine/onednn_linear.py, the default) against torch's F.linear
(MKL's product; --no-onednn-linear).

Times, in this process with the same inputs, the SD1.5 UNet's linear-layer shapes at a 256² and a 512² CFG step
one by one both ways, then a full-size random-weight SD1.5 CFG UNet call (batch 2) both ways alternately: held
in fp16 and computed in fp32 as Loom runs a fp16 checkpoint on a CPU (manual cast), and held in fp32. Prints
milliseconds or seconds, the ratio and the largest difference between the two outputs.

    python benchmarks/onednn_linear.py                       # layers, then full models at 256²
    python benchmarks/onednn_linear.py --sizes 256 512 --repeats 4
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F

from benchmarks.alternate import best_s, both_ways, run_benchmark
from benchmarks.sd_unet import UNETS, random_models
from engine import onednn_linear
from engine.memory import use_cpu_kernels
from engine.memory_tiers import LayerStreamer

# (rows, in features, out features) per UNet level: tokens x 2 (CFG) for 256² (32², 16², 8² latents) and 512²;
# q/k/v and out (dim -> dim), the GEGLU projection (dim -> 8 dim) and the feed-forward output (4 dim -> dim)
LEVELS = [(2048, 320), (512, 640), (128, 1280), (8192, 320), (2048, 640), (512, 1280)]
LAYERS = [(rows, k, n) for rows, dim in LEVELS for k, n in ((dim, dim), (dim, 8 * dim), (4 * dim, dim))]


def layers(repeats: int) -> None:
    """Each shape both ways: ms and oneDNN's time / F.linear's."""
    print(f"{'layer (rows, in, out)':<24}{'F.linear ms':>13}{'oneDNN ms':>11}{'ratio':>7}")
    with torch.inference_mode():
        for rows, k, n in LAYERS:
            x, w, b = torch.randn(rows, k), torch.randn(n, k) * k ** -0.5, torch.randn(n)
            mkl = best_s(partial(F.linear, x, w, b), repeats)
            onednn = best_s(partial(onednn_linear.linear, x, w, b), repeats)
            print(f"{(rows, k, n)!s:<24}{mkl * 1e3:>13.1f}{onednn * 1e3:>11.1f}{onednn / mkl:>7.2f}", flush=True)


def models(sizes: list[int], repeats: int) -> None:
    half = use_cpu_kernels(random_models("sd15", torch.float16)[0])
    LayerStreamer(half, torch.device("cpu"), torch.device("cpu"), 1 << 62, compute_dtype=torch.float32)
    full = use_cpu_kernels(random_models("sd15")[0])
    gen = torch.Generator().manual_seed(0)
    for size in sizes:
        latent = torch.randn(2, 4, size // 8, size // 8, generator=gen)
        context, timesteps = torch.randn(2, 77, UNETS["sd15"].context_dim, generator=gen), torch.full((2,), 500.0)
        for held, unet in (("fp16", half), ("fp32", full)):
            both_ways(f"UNet CFG call {size}², {held} held", partial(unet, latent, timesteps, context), repeats,
                      onednn_linear.set_onednn_linear, ("F.linear", "oneDNN"))


if __name__ == "__main__":
    run_benchmark(__doc__, torch.backends.mkldnn.is_available(),
                  "this torch build has no oneDNN: Loom computes linear layers with F.linear here", layers, models)
