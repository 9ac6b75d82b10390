"""Winograd 3×3 convolutions (engine/winograd.py, the default: NNPACK's F(6×6, 3×3), Loom's F(2×2, 3×3) and,
on maps of 8×8 and less, one product with the unfolded windows, each shape taking the one timed fastest on
this machine) against oneDNN's direct one (--no-winograd).

Times, in this process with the same inputs, the SD1.5 UNet's and VAE's 3×3 convolution shapes one by one
with each kernel (and which one Loom's own timing took), then a full-size random-weight SD1.5 CFG UNet
call (batch 2) and a VAE decode, each both ways alternately, held in fp16 and computed in fp32 as Loom runs
them on a CPU. Prints seconds, the ratio and the largest difference between the two outputs.

    python benchmarks/winograd_conv.py                    # layers, then full models at 256²
    python benchmarks/winograd_conv.py --sizes 256 512 --repeats 2
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F

from benchmarks.alternate import best_s, both_ways, run_benchmark
from benchmarks.sd_unet import random_models
from engine.memory_tiers import LayerStreamer
from engine.winograd import (
    set_winograd,
    unfolded_conv3x3,
    use_winograd,
    winograd_available,
    winograd_conv3x3,
    winograd_kernel,
)
from engine.winograd_f2x2 import winograd_f2x2_conv3x3

# (batch, in channels, out channels, side): the UNet's at a 256² and 512² CFG step, the VAE decoder's at 128²
# and 512²
LAYERS = [(2, 320, 320, 32), (2, 640, 640, 16), (2, 1280, 640, 16), (2, 1280, 1280, 8), (2, 2560, 1280, 8),
          (2, 1920, 1280, 8), (2, 640, 640, 8),
          (2, 1280, 1280, 4), (2, 2560, 1280, 4),
          (2, 320, 320, 64), (2, 640, 640, 32), (2, 1280, 1280, 16), (2, 2560, 1280, 16), (2, 960, 640, 32),
          (2, 640, 320, 64), (1, 512, 512, 16), (1, 512, 512, 64), (1, 512, 512, 128), (1, 256, 256, 256),
          (1, 128, 128, 512)]
KERNELS = {winograd_conv3x3: "NNPACK", winograd_f2x2_conv3x3: "F(2x2)", unfolded_conv3x3: "unfolded"}


def layers(repeats: int) -> None:
    """Each shape with oneDNN and each kernel: ms, and each kernel's time / oneDNN's."""
    print(f"{'layer (N, C, K, side)':<26}{'oneDNN ms':>11}" + "".join(f"{n + ' ms':>12}{'ratio':>7}"
                                                              for n in KERNELS.values()) + "  taken")
    for batch, cin, cout, side in LAYERS:
        x = torch.randn(batch, cin, side, side)
        w, b = torch.randn(cout, cin, 3, 3) * (cin * 9) ** -0.5, torch.zeros(cout)
        direct = best_s(partial(F.conv2d, x, w, b, padding=1), repeats)
        figures = f"{direct * 1e3:>11.1f}"
        for kernel in KERNELS:
            fast = best_s(partial(kernel, x, w, b), repeats)
            figures += f"{fast * 1e3:>12.1f}{fast / direct:>7.2f}"
        with torch.inference_mode():
            taken = KERNELS.get(winograd_kernel(x, w), "direct")
        print(f"{(batch, cin, cout, side)!s:<26}{figures}  {taken}", flush=True)


def models(sizes: list[int], repeats: int) -> None:
    unet, vae = random_models(dtype=torch.float16)
    for model in (unet, vae):  # Winograd first, as engine/memory.use_cpu_kernels: the streamer converts what is left
        use_winograd(model)
        LayerStreamer(model, torch.device("cpu"), torch.device("cpu"), 1 << 62, compute_dtype=torch.float32)
    gen = torch.Generator().manual_seed(0)
    for size in sizes:
        latent = torch.randn(2, 4, size // 8, size // 8, generator=gen)
        context, timesteps = torch.randn(2, 77, 768, generator=gen), torch.tensor([500.0, 500.0])
        for title, run in ((f"UNet CFG call {size}²", partial(unet, latent, timesteps, context)),
                           (f"VAE decode {size}²", partial(vae.decode, latent[:1]))):
            both_ways(title, run, repeats, set_winograd, ("direct", "winograd"))


if __name__ == "__main__":
    run_benchmark(__doc__, winograd_available(),
                  "this torch build has no NNPACK (or the CPU lacks AVX2): Loom convolves directly here", layers, models)
