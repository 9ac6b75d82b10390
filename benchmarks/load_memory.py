"""Peak memory of loading and of a txt2img run, weights held in the checkpoint's fp16 (manual cast, the CPU
default) against weights upcast to fp32 at load (--no-manual-cast).

Builds (or reuses, --ckpt) a full-size SD1.5-layout fp16 checkpoint with random weights, then runs each case
in a fresh subprocess so peaks do not mix: `load` places the UNet, CLIP and VAE and reports the process's
peak RSS (VmHWM) and load time; `txt2img` runs the example workflow (CheckpointLoaderSimple, two
CLIPTextEncode, KSampler euler cfg 8, VAEDecode, SaveImage) at each size and reports peak RSS and seconds
per sampling step (the fastest after the first).

    python benchmarks/load_memory.py                       # 256, 3 steps
    python benchmarks/load_memory.py --sizes 256 512 --ckpt /tmp/models/checkpoints/v1-5-pruned-emaonly.safetensors
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHECKPOINT = "v1-5-pruned-emaonly.safetensors"
CASES = {"fp16 storage (default)": [], "upcast fp32 (--no-manual-cast)": ["--no-manual-cast"]}


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def _manager(flags: list[str]):
    from launch.cli import build_parser
    from launch.compute_flags import manager_from_args

    return manager_from_args(build_parser().parse_args(["--cpu", *flags]))


def load_worker(ckpt: Path, flags: list[str]) -> dict:
    """Place the checkpoint's three models; the peak RSS of the whole process so far."""
    from engine.graph.context import ExecutionContext, Services
    from engine.paths import Folders
    from nodes.loaders import CheckpointLoaderSimple

    manager = _manager(flags)
    start = time.perf_counter()
    folders = Folders(ckpt.parents[2], models_dir=ckpt.parents[1])
    ctx = ExecutionContext("bench", "bench", {}, Services(folders=folders, models=manager), sink=lambda e: None)
    model, clip, vae = CheckpointLoaderSimple(ckpt_name=ckpt.name).run(ctx)
    for value in (model, clip, vae):
        manager.load(value.handle)
    return {"load_s": time.perf_counter() - start, "held_mib": manager.used("cpu") / 2**20}


def txt2img_worker(ckpt: Path, flags: list[str], size: int, steps: int) -> dict:
    """The example txt2img workflow at `size`; seconds per step from the progress events."""
    from engine.graph.context import Services
    from engine.graph.executor import Executor
    from engine.graph.registry import build_default_registry
    from engine.paths import Folders

    prompt = json.loads((ROOT / "workflows" / "sd15_txt2img.json").read_text())
    prompt["5"]["inputs"].update(width=size, height=size)
    prompt["3"]["inputs"]["steps"] = steps
    stamps: list[float] = []

    def sink(event) -> None:
        if event.type == "progress" and event.data.get("node") == "3":
            stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory(prefix="loom-bench-out-") as out:
        folders = Folders(Path(out), models_dir=ckpt.parents[1])
        folders.ensure()
        registry, _ = build_default_registry(Services(folders=folders, models=_manager(flags)))
        start = time.perf_counter()
        result = Executor(registry).run(prompt, sink=sink)
    if result.status != "success":
        raise RuntimeError(result.error or result.node_errors)
    steps_s = [b - a for a, b in itertools.pairwise(stamps)]
    return {"total_s": time.perf_counter() - start, "step_s": min(steps_s) if steps_s else float("nan")}


def _run(args, case_flags: list[str], mode: str, size: int = 0) -> dict:
    command = [sys.executable, __file__, "--worker", mode, "--ckpt", str(args.ckpt), "--size", str(size),
               "--steps", str(args.steps), "--", *case_flags]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, help="an fp16 SD1.5 file under <models>/checkpoints/ (default: a "
                                                  "random full-size one built in a temporary folder)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--worker", choices=("load", "txt2img"), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("flags", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = (load_worker(args.ckpt, args.flags) if args.worker == "load"
                  else txt2img_worker(args.ckpt, args.flags, args.size, args.steps))
        print(json.dumps(result | {"peak_rss_mib": _status_mib("VmHWM")}))
        return
    with tempfile.TemporaryDirectory(prefix="loom-bench-") as tmp:
        if args.ckpt is None:
            from benchmarks.sd_unet import build_checkpoint

            args.ckpt = Path(tmp) / "models" / "checkpoints" / CHECKPOINT
            build_checkpoint("sd15", args.ckpt)
        print(f"{args.ckpt.name}: {args.ckpt.stat().st_size / 2**30:.2f} GiB on disk; peak RSS = VmHWM of a fresh "
              f"process; s/step = fastest of {args.steps} steps after the first")
        results = {name: {"load": _run(args, flags, "load")} | {size: _run(args, flags, "txt2img", size)
                                                                for size in args.sizes}
                   for name, flags in CASES.items()}
        for name, rows in results.items():
            load = rows["load"]
            print(f"{name:32} load: peak RSS {load['peak_rss_mib']:7.0f} MiB, weights held {load['held_mib']:6.0f}"
                  f" MiB, {load['load_s']:5.1f} s")
            for size in args.sizes:
                run = rows[size]
                print(f"{name:32} txt2img {size}²: peak RSS {run['peak_rss_mib']:7.0f} MiB, "
                      f"{run['step_s']:6.2f} s/step, {run['total_s']:6.1f} s in all")
        default, upcast = results.values()
        for key in ("load", *args.sizes):
            rss = default[key]["peak_rss_mib"] / upcast[key]["peak_rss_mib"]
            step = "" if key == "load" else f", s/step ratio {default[key]['step_s'] / upcast[key]['step_s']:.2f}"
            print(f"default / upcast at {key}: peak RSS ratio {rss:.2f}{step}")


if __name__ == "__main__":
    main()
