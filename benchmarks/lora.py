"""LoRA patching cost on the full-size SD1.5 UNet: time to apply, change strength and remove a LoRA, and the
extra memory held while patched.

Builds the 860M-parameter UNet with random weights in memory (meta -> to_empty -> random init), writes a
kohya-named rank-32 LoRA over its 192 attention modules (fp16, as trainers save them) to a temporary file,
then goes through LoraLoader's path: read + match the file, place the model with the patches (apply),
place it with another strength (change), place it without patches (remove, bit-identical restore).

    python benchmarks/lora.py                 # fp32 UNet (the CPU default)
    python benchmarks/lora.py --dtype fp16    # half the memory
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch
from safetensors.torch import save_file
from sd_unet import UNETS

from engine.memory import ModelManager
from engine.models.diffusers_names import block_map, ldm_to_diffusers
from engine.models.lora.apply import lora_patches, read_lora
from engine.models.lora.keys import unet_names
from engine.models.unet import UNetModel

ATTENTION = re.compile(r"\.(proj_in|proj_out|attn[12]\.to_(q|k|v|out\.0)|ff\.net\.(0\.proj|2))\.weight$")
MIB = 1 << 20


def rss() -> int:
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024


def random_unet(dtype: torch.dtype) -> UNetModel:
    with torch.device("meta"):
        unet = UNetModel(UNETS["sd15"])
    unet = unet.to_empty(device="cpu").to(dtype)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in unet.parameters():
            p.normal_(0.0, 0.02, generator=gen)
    return unet.requires_grad_(False).eval()


def kohya_lora(unet: UNetModel, rank: int, path: Path) -> int:
    """Write a kohya SD1.5 LoRA over every attention module; returns the module count."""
    blocks = block_map(unet.config)
    gen = torch.Generator().manual_seed(1)
    tensors = {}
    for key, weight in unet.state_dict().items():
        if ATTENTION.search(key):
            name = "lora_unet_" + ldm_to_diffusers(key.removesuffix(".weight"), blocks).replace(".", "_")
            tensors[f"{name}.lora_down.weight"] = (torch.randn(rank, *weight.shape[1:], generator=gen) * 0.01).half()
            tensors[f"{name}.lora_up.weight"] = (torch.randn(weight.shape[0], rank, *[1] * (weight.ndim - 2),
                                                             generator=gen) * 0.01).half()
            tensors[f"{name}.alpha"] = torch.tensor(rank / 2).half()
    save_file(tensors, str(path))
    return len(tensors) // 3


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", choices=("fp32", "fp16"), default="fp32")
    parser.add_argument("--rank", type=int, default=32)
    args = parser.parse_args()
    dtype = torch.float32 if args.dtype == "fp32" else torch.float16

    unet, built = timed(lambda: random_unet(dtype))
    params = sum(p.numel() for p in unet.parameters())
    manager = ModelManager(device="cpu", ram_budget=1 << 40, precision=args.dtype)
    base = manager.handle("bench|sd15|unet", name="sd15 unet (random)", kind="unet",
                          state_dict=unet.state_dict, load=lambda _: unet)
    manager.load(base)
    original = {k: v.clone() for k, v in unet.state_dict().items() if ATTENTION.search(k)}

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lora_sd15_rank32.safetensors"
        modules = kohya_lora(unet, args.rank, path)
        size = path.stat().st_size
        before_rss, before_used = rss(), manager.used("cpu")

        def prepare(strength):
            lora = read_lora(path)
            shapes = base.module_shapes()
            patches, report = lora_patches(lora, unet_names(unet.config, shapes), shapes, strength, text=False)
            assert report.matched == modules, report.summary()
            return base.with_patches(patches)

        patched, t_prepare = timed(lambda: prepare(1.0))
        _, t_apply = timed(lambda: manager.load(patched))
        extra_rss, extra_used = rss() - before_rss, manager.used("cpu") - before_used
        weaker = prepare(0.5)
        _, t_change = timed(lambda: manager.load(weaker))
        _, t_remove = timed(lambda: manager.load(base))
        exact = all(torch.equal(unet.state_dict()[k], v) for k, v in original.items())

    print(f"SD1.5 UNet {params / 1e6:.0f}M params, {args.dtype}, built in {built:.1f} s; "
          f"{torch.get_num_threads()} threads")
    print(f"LoRA: kohya rank {args.rank}, {modules} modules, {size / MIB:.0f} MiB fp16 file")
    print(f"read + match file     {t_prepare * 1000:8.0f} ms")
    print(f"apply (place patched) {t_apply * 1000:8.0f} ms")
    print(f"change strength       {t_change * 1000:8.0f} ms")
    print(f"remove (restore)      {t_remove * 1000:8.0f} ms   bit-identical: {exact}")
    print(f"extra memory while patched: {extra_used / MIB:.0f} MiB of weights "
          f"({extra_used / (params * dtype.itemsize) * 100:.1f}% of the UNet), RSS +{extra_rss / MIB:.0f} MiB "
          "(LoRA factors included)")


if __name__ == "__main__":
    main()
