"""VAE decode (and optionally one CFG UNet forward) timed in ComfyUI and in Loom on the same random weights.

The parent writes full-size SD1.5-layout random weights (benchmarks/sd_unet.py) to a temporary folder,
then runs one worker process per implementation and round: ComfyUI's worker runs under ComfyUI's own
python and imports its comfy.sd from the given checkout (nothing of it is copied into Loom); Loom's runs
under this python and decodes through Loom's VAE value (engine.values.vae, the VAEDecode node's path).
Both run under torch.inference_mode, as each engine's executor does. The order alternates between
rounds so a busy machine penalises neither side; figures are medians over all timed calls.

    python benchmarks/vae_vs_comfyui.py --comfyui /work/ref/ComfyUI --comfy-python /work/ref/comfy_venv/bin/python
    python benchmarks/vae_vs_comfyui.py ... --sizes 128 256 512 768 --unet-sizes 256 512 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UNET_PREFIX = "model.diffusion_model."


def _timed(repeats: int, run: Callable[..., object], *args, **kwargs) -> list[float]:
    """One warm-up call of run(*args, **kwargs), then `repeats` timed calls (seconds)."""
    run(*args, **kwargs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return times


def _unet_inputs(size: int):
    import torch

    gen = torch.Generator().manual_seed(0)
    side = size // 8
    return torch.randn(2, 4, side, side, generator=gen), torch.full((2,), 500.0), torch.randn(2, 77, 768, generator=gen)


def comfy_worker(args) -> dict:
    """ComfyUI 0.3.64: comfy.sd.VAE.decode and the UNetModel forward of load_diffusion_model_state_dict."""
    sys.path.insert(0, args.comfyui)
    import torch

    torch.set_num_threads(args.threads or torch.get_num_threads())
    import comfy.cli_args
    from safetensors.torch import load_file

    comfy.cli_args.args.cpu = True  # as `main.py --cpu`: this torch build sees CUDA but may lack a GPU
    import comfy.model_management
    import comfy.sd

    result = {"vae": {}, "unet": {}}
    with torch.inference_mode():
        vae = comfy.sd.VAE(sd=load_file(Path(args.weights) / "vae.safetensors"))
        result["vae_dtype"] = str(vae.vae_dtype)
        for size in args.sizes:
            latent = torch.randn(1, 4, size // 8, size // 8, generator=torch.Generator().manual_seed(0))
            result["vae"][size] = _timed(args.repeats, vae.decode, latent)
        if args.unet_sizes:
            patcher = comfy.sd.load_diffusion_model_state_dict(load_file(Path(args.weights) / "unet.safetensors"))
            comfy.model_management.load_models_gpu([patcher])
            unet = patcher.model.diffusion_model
            result["unet_dtype"] = str(next(unet.parameters()).dtype)
            for size in args.unet_sizes:
                x, t, context = _unet_inputs(size)
                result["unet"][size] = _timed(args.repeats, unet, x, t, context=context)
    return result


def loom_worker(args) -> dict:
    """Loom: the VAE value's decode (VAEDecode's path) and UNetModel's forward, fp32 on CPU."""
    sys.path.insert(0, str(ROOT))
    import torch
    from safetensors.torch import load_file

    torch.set_num_threads(args.threads or torch.get_num_threads())
    from benchmarks.sd_unet import UNETS
    from engine.memory import ModelManager
    from engine.models.unet import UNetModel
    from engine.models.vae import VAEConfig
    from engine.values.model import vae_model

    manager = ModelManager(device="cpu")
    vae = vae_model(manager, Path(args.weights) / "vae.safetensors", "", VAEConfig())
    result = {"vae": {}, "unet": {}, "vae_dtype": str(vae.vae_dtype), "unet_dtype": "torch.float32"}
    for size in args.sizes:
        latent = torch.randn(1, 4, size // 8, size // 8, generator=torch.Generator().manual_seed(0))
        result["vae"][size] = _timed(args.repeats, vae.decode, latent)
    if args.unet_sizes:
        weights = load_file(Path(args.weights) / "unet.safetensors")
        with torch.device("meta"):
            unet = UNetModel(UNETS["sd15"])
        unet.load_state_dict({k.removeprefix(UNET_PREFIX): v.float() for k, v in weights.items()}, assign=True)
        unet.eval().requires_grad_(False)
        with torch.inference_mode():
            for size in args.unet_sizes:
                x, t, context = _unet_inputs(size)
                result["unet"][size] = _timed(args.repeats, unet, x, t, context)
    return result


def write_weights(folder: Path, with_unet: bool) -> None:
    """The full-size random VAE (bare keys, as a standalone VAE file) and UNet (checkpoint prefix), fp16."""
    sys.path.insert(0, str(ROOT))
    import torch
    from safetensors.torch import save_file

    from benchmarks.sd_unet import UNETS, _random_weights
    from engine.models.unet import UNetModel
    from engine.models.vae import AutoencoderKL, VAEConfig

    gen = torch.Generator().manual_seed(0)
    with torch.device("meta"):
        vae, unet = AutoencoderKL(VAEConfig()), UNetModel(UNETS["sd15"])
    save_file(_random_weights({k: v.shape for k, v in vae.state_dict().items()}, gen), str(folder / "vae.safetensors"))
    if with_unet:
        shapes = {UNET_PREFIX + k: v.shape for k, v in unet.state_dict().items()}
        save_file(_random_weights(shapes, gen), str(folder / "unet.safetensors"))


def _run(impl: str, python: str, args, weights: Path) -> dict:
    command = [python, __file__, "--worker", impl, "--weights", str(weights), "--comfyui", args.comfyui,
               "--repeats", str(args.repeats), "--threads", str(args.threads), "--sizes", *map(str, args.sizes)]
    command += ["--unet-sizes", *map(str, args.unet_sizes)] if args.unet_sizes else []
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{impl} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _report(title: str, part: str, sizes: list[int], runs: dict[str, list[dict]]) -> None:
    print(f"\n{title}   (median s over all timed calls; min in brackets)")
    print(f"{'size':>6} {'ComfyUI':>16} {'Loom':>16} {'Loom/ComfyUI':>13}")
    for size in sizes:
        times = {impl: [t for r in results for t in r[part][str(size)]] for impl, results in runs.items()}
        comfy, loom = (statistics.median(times[i]) for i in ("comfyui", "loom"))
        cells = [f"{statistics.median(times[i]):7.3f} [{min(times[i]):6.3f}]" for i in ("comfyui", "loom")]
        print(f"{size:>6} {cells[0]:>16} {cells[1]:>16} {loom / comfy:13.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", required=True, help="ComfyUI checkout (read only; its comfy package is imported)")
    parser.add_argument("--comfy-python", default=None, help="python of ComfyUI's environment (default: this one)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512], help="decoded image sides")
    parser.add_argument("--unet-sizes", type=int, nargs="*", default=[], help="also time a batch-2 UNet forward")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per size and worker (after a warm-up)")
    parser.add_argument("--rounds", type=int, default=2, help="worker pairs, order alternating")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads in both workers (default: torch's own; 1 is steadier on a busy machine)")
    parser.add_argument("--worker", choices=("comfyui", "loom"), help=argparse.SUPPRESS)
    parser.add_argument("--weights", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps((comfy_worker if args.worker == "comfyui" else loom_worker)(args)))
        return

    pythons = {"comfyui": args.comfy_python or sys.executable, "loom": sys.executable}
    with tempfile.TemporaryDirectory(prefix="loom-vae-bench-") as tmp:
        write_weights(Path(tmp), bool(args.unet_sizes))
        runs: dict[str, list[dict]] = {"comfyui": [], "loom": []}
        for round_index in range(args.rounds):
            order = ("comfyui", "loom") if round_index % 2 == 0 else ("loom", "comfyui")
            for impl in order:
                runs[impl].append(_run(impl, pythons[impl], args, Path(tmp)))
    first = {impl: results[0] for impl, results in runs.items()}
    print(f"SD1.5 full-size random weights, {args.rounds} rounds x {args.repeats} timed calls, batch 1 decode, "
          f"threads {args.threads or 'default'}; "
          f"dtypes ComfyUI {first['comfyui']['vae_dtype']}, Loom {first['loom']['vae_dtype']}")
    _report("VAE decode", "vae", args.sizes, runs)
    if args.unet_sizes:
        _report("UNet forward, batch 2 (one CFG step)", "unet", args.unet_sizes, runs)


if __name__ == "__main__":
    main()
