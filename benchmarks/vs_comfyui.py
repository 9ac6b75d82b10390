"""Loom against ComfyUI, side by side in one run: every figure of issue 16's table with its ratio.

Starts ComfyUI (its own checkout and Python, given as arguments; it is only run, never imported) and then
Loom, one after the other, on loopback with the same checkpoint file, drives both through the same HTTP +
websocket client and prints, per server and as Loom / ComfyUI:

- server ready time (process start -> first answer of GET /prompt) and RSS at ready, the median of
  --starts fresh starts, and the time until GET /object_info answers on the last of them (Loom opens
  its port before its nodes load; the graph figures start after);
- 1,000-node chain, cold (µs per node), after one 10-node chain (the server's first prompt carries one-time
  costs, Loom's heap freeze among them: 145 µs/node against 117-120 for the next five here), and a
  1,000-node fan-out's fully cached re-run (ms);
- UNet step time (fastest step after the first, from the `progress` messages) per size and sampler;
- VAE decode time (from `executing` VAEDecode to `executing` of the next node) per size;
- peak RSS of the server process after the txt2img runs (VmHWM).

    python benchmarks/vs_comfyui.py --comfyui /work/ref/ComfyUI-h10 \
        --comfyui-python /work/ref/comfy_venv/bin/python --checkpoint sd15.safetensors
    python benchmarks/vs_comfyui.py --comfyui ... --comfyui-python ...           # full-size random SD1.5
    python benchmarks/vs_comfyui.py --comfyui ... --comfyui-python ... --quick   # reduced random SD1.5

Without --checkpoint it builds a random-weight fp16 SD1.5 file (the real layout, full size; with --quick
only two UNet levels with one block each) that both servers detect as SD1.5, and deletes it afterwards.
Each server's own source tree is byte-compiled first and the servers run without PYTHONDONTWRITEBYTECODE, so
both start as on a user's second start (a shell that sets it would time every start compiling each module).
The machine may be shared: figures are noisy, ratios are measured back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = "bench_sd15.safetensors"
SAMPLERS = ("euler", "dpmpp_2m")
GRAPH_NODES = 1000


QUICK_UNET = {"in_channels": 4, "out_channels": 4, "model_channels": 320, "channel_mult": (1, 2),
              "num_res_blocks": (1, 1), "transformer_depth": (1, 1), "transformer_depth_middle": 1,
              "transformer_depth_output": (1, 1, 1, 1), "context_dim": 768, "num_heads": 8}


def build_checkpoint(path: Path, quick: bool) -> None:
    """A random-weight fp16 SD1.5 file both servers detect as SD1.5: full-size, or with a reduced UNet
    (two levels, one block each) for --quick."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.sd_unet import build_checkpoint as build
    from engine.models.unet import UNetConfig

    build("sd15", path, UNetConfig(**QUICK_UNET) if quick else None)


def txt2img(size: int, sampler: str, steps: int, seed: int) -> dict:
    """The default txt2img graph; the seed makes every run miss the cache from KSampler on."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CHECKPOINT}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": steps, "cfg": 8.0, "sampler_name": sampler, "scheduler": "normal",
            "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0],
            "latent_image": ["5", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "PreviewImage", "inputs": {"images": ["8", 0]}},
    }


def chain(length: int, color: int) -> dict:
    """EmptyImage -> ImageInvert x (length - 2) -> PreviewImage; a fresh colour makes it cold."""
    prompt = {"0": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                           "color": color}}}
    for i in range(1, length - 1):
        prompt[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    prompt["out"] = {"class_type": "PreviewImage", "inputs": {"images": [str(length - 2), 0]}}
    return prompt


def fan_out(nodes: int) -> dict:
    """One EmptyImage feeding (nodes - 1) // 2 ImageInvert -> PreviewImage pairs."""
    prompt = {"seed": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1,
                                                              "color": 7}}}
    for i in range((nodes - 1) // 2):
        prompt[f"i{i}"] = {"class_type": "ImageInvert", "inputs": {"image": ["seed", 0]}}
        prompt[f"p{i}"] = {"class_type": "PreviewImage", "inputs": {"images": [f"i{i}", 0]}}
    return prompt


@dataclass
class Run:
    """What one prompt's websocket messages told: wall time, step stamps, node start stamps."""

    seconds: float = 0.0
    error: str = ""
    steps: list[float] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)

    def step_s(self) -> float:
        gaps = [b - a for a, b in zip(self.steps, self.steps[1:])]
        return min(gaps) if gaps else float("nan")

    def node_s(self, node: str, next_node: str) -> float:
        return self.started[next_node] - self.started[node]


def refusal(body: dict) -> str:
    """One line for a refused prompt: the error and the first node error's reason."""
    error, node_errors = body.get("error") or {}, body.get("node_errors") or {}
    first = next(iter(node_errors.values()), {}).get("errors", [{}])[0]
    return f"{error.get('message', body)}; {first.get('message', '')} {first.get('details', '')}".strip()[:300]


async def run_prompt(session: aiohttp.ClientSession, url: str, prompt: dict, timeout: float) -> Run:
    """Queue `prompt` and follow its messages until `executing` None (done) or an error."""
    client = f"bench{time.monotonic_ns()}"
    run = Run()
    async with session.ws_connect(f"{url}/ws?clientId={client}", max_msg_size=0) as ws:
        began = time.perf_counter()
        async with session.post(f"{url}/prompt", json={"prompt": prompt, "client_id": client}) as response:
            body = await response.json()
        if response.status != 200:
            return Run(error=refusal(body))
        prompt_id = body["prompt_id"]
        async with asyncio.timeout(timeout):
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                event = json.loads(msg.data)
                kind, data, now = event.get("type"), event.get("data") or {}, time.perf_counter()
                if data.get("prompt_id") not in (None, prompt_id):
                    continue
                if kind == "progress":
                    run.steps.append(now)
                elif kind == "executing" and data.get("node") is not None:
                    run.started.setdefault(str(data["node"]), now)
                elif kind == "execution_error":
                    run.error = str(data.get("exception_message"))[:300]
                    break
                elif kind == "executing" or kind == "execution_success":
                    break
    run.seconds = time.perf_counter() - began
    return run


def rss_mib(pid: int, field_name: str) -> float:
    """VmRSS / VmHWM of a process in MiB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def wait_ready(url: str, process: subprocess.Popen, timeout: float, path: str = "/prompt") -> None:
    """Poll GET `path` until it answers 200 (Loom answers /prompt before its nodes load; /object_info
    waits for them)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}")
            try:
                async with session.get(f"{url}{path}") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.02)
    raise RuntimeError("server not ready in time")


def compiled_env(python: str, tree: Path) -> dict[str, str]:
    """The environment a server starts in, after `tree`'s sources were byte-compiled by `python` (its
    packages' bytecode came with their install)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    skip = r"/(\.venv|node_modules|\.git)/"
    subprocess.run([python, "-m", "compileall", "-q", "-x", skip, str(tree)], env=env, check=False,
                   stdout=subprocess.DEVNULL)
    return env


def measure(name: str, command: list[str], cwd: Path, port: int, args) -> dict:
    """Start one server --starts times (the median start-up figures count: one start on a shared host can
    take twice as long), take the other figures from the last start, stop it."""
    env = compiled_env(command[0], cwd)
    starts: list[tuple[float, float]] = []
    with open(Path(args.work) / f"{name}.log", "w") as log:
        while True:
            began = time.perf_counter()
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                url = f"http://127.0.0.1:{port}"
                asyncio.run(wait_ready(url, process, args.timeout))
                starts.append((time.perf_counter() - began, rss_mib(process.pid, "VmRSS")))
                if len(starts) == args.starts:
                    figures = {"ready_s": statistics.median(s for s, _ in starts),
                               "ready_rss": statistics.median(r for _, r in starts),
                               "ready_all_s": " ".join(f"{s:.2f}" for s, _ in starts)}
                    return asyncio.run(collect(url, process, began, figures, args))
            finally:
                process.terminate()
                process.wait(30)


async def collect(url: str, process: subprocess.Popen, began: float, figures: dict, args) -> dict:
    await wait_ready(url, process, args.timeout, "/object_info")
    figures["nodes_s"] = time.perf_counter() - began
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        await graph_figures(session, url, figures, args)
        await model_figures(session, url, figures, args)
    figures["peak_rss"] = rss_mib(process.pid, "VmHWM")
    return figures


async def graph_figures(session, url: str, figures: dict, args) -> None:
    await run_prompt(session, url, chain(10, 0), args.timeout)
    colds = []
    for repeat in range(args.repeats):
        run = await run_prompt(session, url, chain(GRAPH_NODES, 1000 + repeat), args.timeout)
        if run.error:
            figures["chain_us"] = f"refused: {run.error}"
            break
        colds.append(run.seconds / GRAPH_NODES * 1e6)
    else:
        figures["chain_us"] = statistics.median(colds)
    prompt = fan_out(GRAPH_NODES + 1)
    first = await run_prompt(session, url, prompt, args.timeout)
    if first.error:
        figures["fanout_ms"] = f"refused: {first.error}"
        return
    cached = [(await run_prompt(session, url, prompt, args.timeout)).seconds * 1e3 for _ in range(args.repeats)]
    figures["fanout_ms"] = statistics.median(cached)


async def model_figures(session, url: str, figures: dict, args) -> None:
    seed = 0
    for size in args.sizes:
        decodes = []
        for sampler in SAMPLERS:
            steps = []
            for _ in range(args.repeats):
                seed += 1
                run = await run_prompt(session, url, txt2img(size, sampler, args.steps, seed), args.timeout)
                if run.error:
                    raise RuntimeError(f"txt2img {size} {sampler}: {run.error}")
                steps.append(run.step_s())
                decodes.append(run.node_s("8", "9"))
            figures[f"step_{size}_{sampler}"] = min(steps)
        figures[f"vae_{size}"] = min(decodes)


def comfyui_command(args, base: Path, port: int) -> list[str]:
    return [args.comfyui_python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
            "--base-directory", str(base), "--disable-auto-launch", "--preview-method", "none"]


def loom_command(args, base: Path, port: int) -> list[str]:
    return [sys.executable, "main.py", "--cpu", "--port", str(port), "--base-directory", str(base),
            *args.loom_args.split()]


ROWS = [("ready_s", "server ready (s)"), ("ready_rss", "RSS at ready (MiB)"),
        ("nodes_s", "start -> full /object_info (s)"),
        ("chain_us", f"{GRAPH_NODES}-node chain, cold (µs/node)"),
        ("fanout_ms", f"{GRAPH_NODES}-node fan-out, cached re-run (ms)")]


def report(results: dict[str, dict], args) -> None:
    rows = list(ROWS)
    for size in args.sizes:
        rows += [(f"step_{size}_{s}", f"UNet step {size}², {s} (s)") for s in SAMPLERS]
        rows.append((f"vae_{size}", f"VAE decode {size}² (s)"))
    rows.append(("peak_rss", "peak RSS after txt2img (MiB)"))
    print(f"{'figure':42s} {'ComfyUI':>12s} {'Loom':>12s} {'ratio':>7s}")
    for key, label in rows:
        comfy, loom = results["comfyui"].get(key, "-"), results["loom"].get(key, "-")
        both = isinstance(comfy, float) and isinstance(loom, float)
        ratio = f"{loom / comfy:7.3f}" if both and comfy else "      —"

        def cell(value) -> str:
            return f"{value:12.3f}" if isinstance(value, float) else f"{str(value)[:12]:>12s}"

        print(f"{label:42s} {cell(comfy)} {cell(loom)} {ratio}")
    for name, figures in results.items():
        for key, value in figures.items():
            if isinstance(value, str):
                print(f"{name} {key}: {value}")


def run_both(args) -> None:
    with tempfile.TemporaryDirectory(prefix="loom-vs-comfy-") as tmp:
        args.work = args.work or tmp
        Path(args.work).mkdir(parents=True, exist_ok=True)
        checkpoint = Path(args.checkpoint) if args.checkpoint else Path(tmp) / "random_sd15.safetensors"
        if not args.checkpoint:
            build_checkpoint(checkpoint, args.quick)
        print(f"checkpoint {checkpoint} ({checkpoint.stat().st_size / 2**20:.0f} MiB); sizes {args.sizes}, "
              f"{args.steps} steps, cfg 8, {args.repeats} repeats; logs in {args.work}")
        results = {}
        for offset, name in enumerate(("comfyui", "loom")):
            base = Path(tmp) / name
            for folder in ("models/checkpoints", "custom_nodes", "input", "output", "temp", "user"):
                (base / folder).mkdir(parents=True)
            (base / "models" / "checkpoints" / CHECKPOINT).symlink_to(checkpoint.resolve())
            port = args.port + offset
            command = comfyui_command(args, base, port) if name == "comfyui" else loom_command(args, base, port)
            cwd = Path(args.comfyui) if name == "comfyui" else ROOT
            results[name] = measure(name, command, cwd, port, args)
            print(f"{name}: {json.dumps(results[name])}", flush=True)
        report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", required=True, help="a ComfyUI checkout (it is run from there)")
    parser.add_argument("--comfyui-python", required=True, help="the Python of ComfyUI's environment")
    parser.add_argument("--checkpoint", help="an SD1.5 .safetensors file (default: a random-weight one, built)")
    parser.add_argument("--quick", action="store_true", help="a reduced random checkpoint and small sizes")
    parser.add_argument("--sizes", type=int, nargs="+", help="image sides (default 256 512; quick: 128)")
    parser.add_argument("--steps", type=int, default=4, help="sampling steps per txt2img (default 4)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per figure (default 2)")
    parser.add_argument("--starts", type=lambda v: max(1, int(v)), default=3, help="fresh starts per server for the start-up "
                        "figures, of which the median counts (default 3)")
    parser.add_argument("--port", type=int, default=19000, help="ComfyUI's port; Loom uses the next one")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per prompt / start-up")
    parser.add_argument("--loom-args", default="", help="extra flags for Loom's server, e.g. '--no-manual-cast'")
    parser.add_argument("--work", help="folder for the servers' logs (default: a temporary one)")
    args = parser.parse_args()
    args.sizes = args.sizes or ([128] if args.quick else [256, 512])
    run_both(args)


if __name__ == "__main__":
    main()
