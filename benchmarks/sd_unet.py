"""Full-size UNet speed and memory: Loom's KSampler path against diffusers' UNet2DConditionModel.

Builds a full-size SD1.5-layout (or SDXL) checkpoint with random weights in a temporary folder (fp16 on
disk, never kept), then, each in its own subprocess so memory peaks do not mix, loads it and times
sampling steps (euler, cfg 8, batch 1) for Loom and for diffusers on the same weights (converted with
diffusers' own LDM -> diffusers conversion). Prints load time, seconds per step, steps per second,
the Loom/diffusers ratio and peak memory.

    python benchmarks/sd_unet.py                          # CPU, SD1.5, 256 and 512, fp32
    python benchmarks/sd_unet.py --device cuda            # fp16, 512
    python benchmarks/sd_unet.py --device cuda --family sdxl --sizes 1024
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch

from engine.models.unet import UNetConfig, UNetModel
from engine.models.vae import AutoencoderKL, VAEConfig

CHECKPOINT_NAMES = {"sd15": "v1-5-pruned-emaonly.safetensors", "sdxl": "sd_xl_base_1.0.safetensors"}
UNETS = {
    "sd15": UNetConfig(in_channels=4, out_channels=4, model_channels=320, channel_mult=(1, 2, 4, 4),
                       num_res_blocks=(2, 2, 2, 2), transformer_depth=(1, 1, 1, 1, 1, 1, 0, 0),
                       transformer_depth_middle=1, transformer_depth_output=(0, 0, 0) + (1,) * 9,
                       context_dim=768, num_heads=8),
    "sdxl": UNetConfig(in_channels=4, out_channels=4, model_channels=320, channel_mult=(1, 2, 4),
                       num_res_blocks=(2, 2, 2), transformer_depth=(0, 0, 2, 2, 10, 10), transformer_depth_middle=10,
                       transformer_depth_output=(0, 0, 0, 2, 2, 2, 10, 10, 10), context_dim=2048,
                       num_head_channels=64, use_linear_in_transformer=True, adm_in_channels=2816),
}
DIFFUSERS_UNETS = {
    "sd15": {"sample_size": 64, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
             "block_out_channels": (320, 640, 1280, 1280), "cross_attention_dim": 768, "attention_head_dim": 8,
             "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
             "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3},
    "sdxl": {"sample_size": 128, "in_channels": 4, "out_channels": 4, "layers_per_block": 2,
             "block_out_channels": (320, 640, 1280), "cross_attention_dim": 2048, "attention_head_dim": (5, 10, 20),
             "transformer_layers_per_block": (1, 2, 10), "use_linear_projection": True,
             "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
             "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
             "addition_embed_type": "text_time", "addition_time_embed_dim": 256,
             "projection_class_embeddings_input_dim": 2816},
}
POOLED = {"sd15": 768, "sdxl": 1280}
CFG = 8.0


def _random_weights(shapes: dict[str, torch.Size], gen: torch.Generator) -> dict[str, torch.Tensor]:
    """fp16 weights with sane scales (fan-in scaled matrices, unit norms, zero biases): no NaNs/denormals."""
    out = {}
    for key, shape in shapes.items():
        if len(shape) >= 2:
            out[key] = (torch.randn(shape, generator=gen) * shape[1:].numel() ** -0.5).half()
        else:
            out[key] = (torch.ones if key.endswith("weight") else torch.zeros)(shape, dtype=torch.float16)
    return out


def random_models(family: str = "sd15", dtype: torch.dtype = torch.float32) -> tuple[UNetModel, AutoencoderKL]:
    """The full-size UNet and VAE with the checkpoint's random weights, in memory (profilers, A/B runs)."""
    gen = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        unet, vae = UNetModel(UNETS[family]), AutoencoderKL(VAEConfig())
    for module in (unet, vae):
        weights = _random_weights({k: v.shape for k, v in module.state_dict().items()}, gen)
        module.load_state_dict({k: v.to(dtype) for k, v in weights.items()}, assign=True)
    return unet.eval().requires_grad_(False), vae.eval().requires_grad_(False)


def build_checkpoint(family: str, path: Path, unet_config: UNetConfig | None = None) -> int:
    """Write a random checkpoint in the real single-file layout (full-size unless `unet_config` narrows
    the UNet); returns its parameter count."""
    from safetensors.torch import save_file

    from tests.fixtures.text_weights import tiny_clip_l_state_dict, tiny_open_clip_state_dict

    gen = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        unet, vae = UNetModel(unet_config or UNETS[family]), AutoencoderKL(VAEConfig())
    sd = _random_weights({"model.diffusion_model." + k: v.shape for k, v in unet.state_dict().items()}, gen)
    sd |= _random_weights({"first_stage_model." + k: v.shape for k, v in vae.state_dict().items()}, gen)
    if family == "sd15":
        text = tiny_clip_l_state_dict("cond_stage_model.transformer.", width=768, layers=12)
    else:
        text = tiny_clip_l_state_dict("conditioner.embedders.0.transformer.", width=768, layers=12)
        text |= tiny_open_clip_state_dict("conditioner.embedders.1.model.", width=1280, layers=32)
    sd |= {k: v.half() if v.is_floating_point() else v for k, v in text.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(path))
    return sum(v.numel() for v in sd.values())


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _conditioning(family: str, size: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    context = torch.randn(1, 77, UNETS[family].context_dim, generator=gen)
    return context.to(device), torch.randn(1, POOLED[family], generator=gen).to(device)


def _per_step(start: float, stamps: list[float]) -> float:
    """The fastest step after the first (which includes one-off warm-up): robust to a busy machine."""
    times = [b - a for a, b in zip([start, *stamps], stamps)]
    return min(times[1:]) if len(times) > 1 else times[0]


def loom_worker(args) -> dict:
    """Load through CheckpointLoaderSimple and the model manager, then time KSampler steps."""
    from engine.graph.context import ExecutionContext, Services
    from engine.memory import ModelManager
    from engine.paths import Folders
    from nodes.loaders import CheckpointLoaderSimple
    from nodes.sampling import run_sampler

    ckpt = Path(args.ckpt)
    stamps: list[float] = []

    def sink(event):
        if event.type == "progress":
            _sync(args.device)
            stamps.append(time.perf_counter())

    start = time.perf_counter()
    manager = ModelManager(device=args.device, manual_cast=args.manual_cast)
    folders = Folders(ckpt.parents[2], models_dir=ckpt.parents[1])
    ctx = ExecutionContext("bench", "bench", {}, Services(folders=folders, models=manager), sink=sink)
    model, _, _ = CheckpointLoaderSimple(ckpt_name=ckpt.name).run(ctx)
    manager.load(model.handle)
    _sync(args.device)
    load_s = time.perf_counter() - start
    context, pooled = _conditioning(args.family, args.size, "cpu")
    options = {"pooled_output": pooled, "width": args.size, "height": args.size}
    cond = [[context, options]]
    latent = {"samples": torch.zeros(1, 4, args.size // 8, args.size // 8)}
    start = time.perf_counter()
    run_sampler(ctx, model, latent, noise_seed=0, steps=args.steps, cfg=CFG, sampler_name="euler",
                scheduler="normal", positive=cond, negative=cond)
    return {"load_s": load_s, "step_s": _per_step(start, stamps), "dtype": str(manager.dtype_for("unet"))}


def diffusers_worker(args) -> dict:
    """Load the same UNet into diffusers (its own conversion) and time the same euler + CFG steps."""
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint
    from safetensors.torch import load_file

    dtype = torch.float32 if args.device == "cpu" else torch.float16
    start = time.perf_counter()
    checkpoint = {k: v for k, v in load_file(args.ckpt).items() if k.startswith("model.diffusion_model.")}
    config = DIFFUSERS_UNETS[args.family]
    with torch.device("meta"):
        unet = UNet2DConditionModel(**config)
    weights = convert_ldm_unet_checkpoint(checkpoint, config)
    unet.load_state_dict({k: v.to(args.device, dtype) for k, v in weights.items()}, strict=True, assign=True)
    unet = unet.to(args.device, dtype).eval().requires_grad_(False)
    _sync(args.device)
    load_s = time.perf_counter() - start

    context, pooled = _conditioning(args.family, args.size, args.device)
    added = None
    if args.family == "sdxl":
        time_ids = torch.tensor([[args.size, args.size, 0, 0, args.size, args.size]] * 2, device=args.device)
        added = {"text_embeds": pooled.repeat(2, 1).to(dtype), "time_ids": time_ids.to(dtype)}
    x = torch.randn(1, 4, args.size // 8, args.size // 8, generator=torch.manual_seed(0)).to(args.device) * 14.6
    sigmas = torch.linspace(14.6, 0.03, args.steps).tolist() + [0.0]
    timesteps = torch.linspace(999, 0, args.steps).tolist()
    stamps = []
    start = time.perf_counter()
    with torch.inference_mode():
        for i in range(args.steps):
            sigma, t = sigmas[i], timesteps[i]
            scaled = (x / (sigma**2 + 1) ** 0.5).to(dtype)
            eps = unet(torch.cat([scaled, scaled]), t, encoder_hidden_states=context.repeat(2, 1, 1).to(dtype),
                       added_cond_kwargs=added).sample.float()
            cond, uncond = eps.chunk(2)
            denoised = x - sigma * (uncond + CFG * (cond - uncond))
            x = x + (x - denoised) / sigma * (sigmas[i + 1] - sigma)
            _sync(args.device)
            stamps.append(time.perf_counter())
    return {"load_s": load_s, "step_s": _per_step(start, stamps), "dtype": str(dtype)}


def _peak_memory(device: str) -> dict:
    peak = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device == "cuda":
        peak["peak_vram_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return peak


def _run_worker(impl: str, ckpt: Path, args, size: int) -> dict:
    command = [sys.executable, __file__, "--worker", impl, "--ckpt", str(ckpt), "--family", args.family,
               "--device", args.device, "--size", str(size), "--steps", str(args.steps)]
    command += ["--manual-cast"] if args.manual_cast else []
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{impl} worker failed at {size}px:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=sorted(UNETS), default="sd15")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="image sides (default 256 512 on CPU)")
    parser.add_argument("--steps", type=int, default=3, help="sampling steps per run (the first is not timed)")
    parser.add_argument("--manual-cast", action="store_true",
                        help="Loom keeps the fp16 weights and computes per layer in fp32 (compare peak RSS)")
    parser.add_argument("--impls", nargs="+", default=["loom", "diffusers"], choices=("loom", "diffusers"))
    parser.add_argument("--worker", choices=("loom", "diffusers"), help=argparse.SUPPRESS)
    parser.add_argument("--ckpt", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = (loom_worker if args.worker == "loom" else diffusers_worker)(args)
        print(json.dumps(result | _peak_memory(args.device)))
        return

    sizes = args.sizes or ([256, 512] if args.device == "cpu" else [1024 if args.family == "sdxl" else 512])
    with tempfile.TemporaryDirectory(prefix="loom-bench-") as tmp:
        ckpt = Path(tmp) / "models" / "checkpoints" / CHECKPOINT_NAMES[args.family]
        start = time.perf_counter()
        params = build_checkpoint(args.family, ckpt)
        print(f"{args.family} full-size random checkpoint: {params / 1e9:.3f}B parameters, "
              f"{ckpt.stat().st_size / 2**30:.2f} GiB fp16 on disk, built in {time.perf_counter() - start:.1f} s")
        print(f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"euler, cfg {CFG}, batch 1, {args.steps} steps per run (s/step: fastest step after the first)")
        print(f"{'size':>6} {'impl':>10} {'dtype':>14} {'load s':>8} {'s/step':>8} {'it/s':>7} {'peak RSS MB':>12}"
              + ("  peak VRAM MB" if args.device == "cuda" else ""))
        for size in sizes:
            results = {impl: _run_worker(impl, ckpt, args, size) for impl in args.impls}
            for impl, r in results.items():
                vram = f"  {r['peak_vram_mb']:12.0f}" if "peak_vram_mb" in r else ""
                print(f"{size:>6} {impl:>10} {r['dtype']:>14} {r['load_s']:8.2f} {r['step_s']:8.3f} "
                      f"{1 / r['step_s']:7.2f} {r['peak_rss_mb']:12.0f}{vram}")
            if len(results) == 2:
                ratio = results["loom"]["step_s"] / results["diffusers"]["step_s"]
                print(f"{size:>6} {'ratio':>10}  Loom / diffusers seconds per step = {ratio:.3f}")


if __name__ == "__main__":
    main()
