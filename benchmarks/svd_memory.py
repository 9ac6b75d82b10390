"""Peak memory of SVD image-to-video at full size (default 14 frames at 576x1024) under a model budget.

Writes a random-weight checkpoint with svd.safetensors' exact keys and shapes (fp16 on disk, in a temp
folder that is deleted afterwards unless --checkpoint names a file to reuse), then runs the pipeline
phase by phase through the model manager: image encoder, conditioning-frame encode, `--steps` sampling
steps of the video UNet, chunked temporal decode. Prints per phase the wall time, the peak resident
memory (CPU: sampled anonymous RSS; CUDA: peak allocated) and where each model lives afterwards.

Run: `python benchmarks/svd_memory.py --steps 1 --ram-budget 6GiB` (slow on a small CPU: one UNet step
over 14 frames at 576x1024 is about 45 TFLOPs and decoding is about 7 TFLOPs per frame; --cfg 1 keeps the
UNet to one 14-frame batch instead of 28; `--phases decode --decode-frames 2` measures one decode chunk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.memory import ModelManager
from engine.models.detect import detect_file
from engine.sampling import sample
from engine.values.denoiser import sampling_model
from launch.compute_flags import parse_size
from nodes.clip_vision_nodes import encode_images
from nodes.svd import svd_models
from nodes.vae_nodes import vae_decode, vae_encode

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "reference" / "checkpoints" / "svd_img2vid.json"
MIB = 1 << 20


def write_random_checkpoint(path: Path, manifest: Path = MANIFEST) -> None:
    """Every tensor of the manifest, random (fan-in scaled) in fp16; norms near 1, mixing factors 0."""
    shapes = json.loads(manifest.read_text())["tensors"]
    gen = torch.Generator().manual_seed(0)
    tensors = {}
    for key, shape in shapes.items():
        if len(shape) >= 2:
            fan_in = torch.Size(shape[1:]).numel()
            tensors[key] = (torch.randn(shape, generator=gen) * fan_in**-0.5).half()
        elif key.endswith("weight") and "norm" in key:
            tensors[key] = torch.ones(shape, dtype=torch.float16)
        else:
            tensors[key] = torch.zeros(shape, dtype=torch.float16)
    save_file(tensors, str(path))


class PeakMemory:
    """Peak memory over a block: CUDA peak allocated, or CPU anonymous RSS sampled every 10 ms."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._stop = device, 0, threading.Event()

    @staticmethod
    def rss() -> int:
        """Anonymous resident memory (weights, activations); memory-mapped file pages are left out, as
        the page cache can drop them."""
        status = Path("/proc/self/status").read_text()
        return int(status.split("RssAnon:")[1].split()[0]) * 1024

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.rss())

    @contextlib.contextmanager
    def measure(self):
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(self.device)
            yield
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated(self.device)
            return
        self.peak, self._stop = self.rss(), threading.Event()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
            self.peak = max(self.peak, self.rss())


def run(args: argparse.Namespace, path: Path) -> None:
    manager = ModelManager(device=args.device, ram_budget=args.ram_budget, vram_budget=args.vram_budget,
                           on_event=lambda e: print(f"    [{e.type}] {e.data['model']} -> {e.data.get('to')}"))
    config, _ = detect_file(path)
    model, vision, vae = svd_models(manager, path, config)
    image = torch.rand(1, args.height, args.width, 3, generator=torch.Generator().manual_seed(1))
    meter = PeakMemory(manager.device)
    state: dict = {}

    def phase(name: str, fn) -> None:
        start = time.perf_counter()
        with torch.inference_mode(), meter.measure():
            fn()
        where = ", ".join(f"{m['model'].split('(')[-1].rstrip(')')}: {m['location']}" for m in manager.summary())
        print(f"{name:<28} {time.perf_counter() - start:8.1f} s   peak {meter.peak / MIB:9.0f} MiB   [{where}]")

    def encode_image():
        state["pooled"] = encode_images(manager, vision, image).image_embeds.unsqueeze(0)

    def encode_frame():
        state["frame"] = vae_encode(manager, vae, image)

    def denoise():
        options = {"fps": 6, "motion_bucket_id": 127, "augmentation_level": 0.0}
        positive = [[state["pooled"], {**options, "concat_latent_image": state["frame"]}]]
        negative = [[torch.zeros_like(state["pooled"]), {**options, "concat_latent_image": state["frame"] * 0}]]
        empty = torch.zeros(args.frames, 4, args.height // 8, args.width // 8)
        with manager.use(model.handle) as unet:
            sm = sampling_model(model.with_options(transformer_options={
                "temporal_chunk_bytes": args.temporal_chunk_mb * MIB}), unet)
            state["latent"] = sample(sm, 0, args.steps, args.cfg, "euler", "karras", positive, negative,
                                     {"samples": empty}, device=manager.device)["samples"]

    def decode():
        latent = state.get("latent")
        if latent is None:  # the UNet phase was skipped: decode a random latent of the same size
            latent = torch.randn(args.frames, 4, args.height // 8, args.width // 8)
        with manager.use(vae.handle) as module:
            module.decode_chunk_size = args.decode_chunk
        state["frames"] = vae_decode(manager, vae, latent[: args.decode_frames or None]).shape

    print(f"SVD {args.frames} frames at {args.width}x{args.height}, {args.steps} step(s), cfg {args.cfg}, "
          f"device {manager.device}, model budget {manager.ram_budget / MIB:.0f} MiB RAM"
          + (f" / {manager.vram_budget / MIB:.0f} MiB VRAM" if manager.device.type == "cuda" else "")
          + f", threads {torch.get_num_threads()}")
    phases = {"encode": [("image encoder (CLIP ViT-H)", encode_image), ("conditioning-frame encode", encode_frame)],
              "unet": [(f"video UNet x{args.steps} step(s)", denoise)],
              "decode": [(f"temporal decode (chunk {args.decode_chunk})", decode)]}
    if "unet" in args.phases and "encode" not in args.phases:
        raise SystemExit("--phases unet needs encode (the conditioning comes from it)")
    for name in ("encode", "unet", "decode"):
        if name in args.phases:
            for title, fn in phases[name]:
                phase(title, fn)
    if "frames" in state:
        print(f"decoded frames: {tuple(state['frames'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=14)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--height", type=int, default=576)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--cfg", type=float, default=1.0, help="1 = no negative batch (half the activations)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ram-budget", type=parse_size, default=parse_size("8GB"))
    parser.add_argument("--vram-budget", type=parse_size, default=None)
    parser.add_argument("--decode-chunk", type=int, default=2, help="frames per temporal-decoder chunk")
    parser.add_argument("--decode-frames", type=int, default=0, help="decode only the first N frames (0 = all)")
    parser.add_argument("--temporal-chunk-mb", type=int, default=256)
    parser.add_argument("--phases", nargs="+", choices=("encode", "unet", "decode"),
                        default=["encode", "unet", "decode"], help="decode alone decodes a random latent")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--checkpoint", type=Path, help="reuse (or create) the random checkpoint here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.checkpoint is not None:
        if not args.checkpoint.exists():
            write_random_checkpoint(args.checkpoint)
        run(args, args.checkpoint)
        return
    with tempfile.TemporaryDirectory(prefix="svd_bench_") as folder:
        path = Path(folder) / "svd_random.safetensors"
        start = time.perf_counter()
        write_random_checkpoint(path)
        print(f"random checkpoint: {path.stat().st_size / MIB:.0f} MiB in {time.perf_counter() - start:.0f} s")
        run(args, path)


if __name__ == "__main__":
    main()
