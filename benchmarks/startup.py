"""Start-up figures: how long until the server answers, and how long a headless workflow takes.

Prints, as the median and best of --repeats fresh processes: `import torch` alone (the floor of any
workflow whose nodes touch tensors), importing the start-up wiring (launch, web; torch-free), the wall
time of `python main.py run` on workflows/image_invert_and_scale.json and on a torch-free text workflow
(PrimitiveString -> StringConcatenate -> PreviewAny), and for `python main.py --port P`: the time until
GET /prompt answers (RSS then), the slowest GET /prompt answer while the nodes load (the load holds the
GIL at times), and until GET /object_info answers with every node (the registry loads in the background
once the port is open; RSS then). Targets (issue 16): answering and the model-free
run within 1 s.

The child processes keep their compiled bytecode in a temporary folder (PYTHONPYCACHEPREFIX), warmed by
one run before timing, as a user's second start finds it; --no-bytecode-cache times them compiling
every Loom module from source instead (what PYTHONDONTWRITEBYTECODE=1 costs).

    python benchmarks/startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIRING = "import launch.cli, launch.serve, web.app"
IMAGE_WORKFLOW = ROOT / "workflows" / "image_invert_and_scale.json"
TEXT_WORKFLOW = {
    "1": {"class_type": "PrimitiveString", "inputs": {"value": "a watercolor fox"}},
    "2": {"class_type": "StringConcatenate", "inputs": {"string_a": ["1", 0], "string_b": "at dawn",
                                                        "delimiter": ", "}},
    "3": {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}},
}


def child_env(cache: Path | None) -> dict[str, str]:
    """The environment of the timed processes: bytecode kept under `cache` (None: never written)."""
    env = dict(os.environ)
    if cache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def seconds(command: list[str], env: dict[str, str]) -> float:
    """Wall time of a fresh process running `command` from the repository root."""
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - began


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def _poll(url: str, began: float, timeout: float, timeout_per_try: float = 1.0) -> bytes:
    while time.perf_counter() - began < timeout:
        try:
            with urllib.request.urlopen(url, timeout=timeout_per_try) as response:
                return response.read()
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer in time")


def _slowest_answer_until(url: str, done: concurrent.futures.Future) -> float:
    """The slowest of back-to-back GET `url` answers while `done` is pending (the nodes loading)."""
    slowest = 0.0
    while not done.done():
        began = time.perf_counter()
        urllib.request.urlopen(url, timeout=60).read()
        slowest = max(slowest, time.perf_counter() - began)
    return slowest


def server_figures(base: Path, port: int, env: dict[str, str], timeout: float = 300.0) -> dict[str, float]:
    """Of a fresh server: seconds until GET /prompt answers and until /object_info lists every node,
    with the RSS at each."""
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "main.py", "--port", str(port), "--base-directory", str(base)],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _poll(f"http://127.0.0.1:{port}/prompt", began, timeout)
        figures = {"ready": time.perf_counter() - began, "rss_ready": rss_mib(process.pid)}
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            asked = pool.submit(_poll, f"http://127.0.0.1:{port}/object_info", began, timeout, timeout)
            figures["lag"] = _slowest_answer_until(f"http://127.0.0.1:{port}/prompt", asked)
            nodes = json.loads(asked.result())
        figures.update(nodes=time.perf_counter() - began, rss_nodes=rss_mib(process.pid), node_count=len(nodes))
        return figures
    finally:
        process.terminate()
        process.wait(30)


def show(label: str, values: list[float], unit: str = "s") -> None:
    print(f"{label:52s} median {statistics.median(values):7.2f} {unit}   best {min(values):7.2f} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=19010)
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="time the processes compiling Loom's modules from source on every start")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loom-startup-") as tmp:
        base = Path(tmp) / "base"
        text_workflow = Path(tmp) / "text_preview.json"
        text_workflow.write_text(json.dumps(TEXT_WORKFLOW))
        env = child_env(None if args.no_bytecode_cache else Path(tmp) / "pycache")
        run = [sys.executable, "main.py", "--base-directory", str(base), "run", "--quiet"]
        commands = {
            "python -c 'import torch'": [sys.executable, "-c", "import torch"],
            f"python -c '{WIRING}'": [sys.executable, "-c", WIRING],
            "main.py run image_invert_and_scale.json": [*run, str(IMAGE_WORKFLOW)],
            "main.py run (text -> PreviewAny, torch-free nodes)": [*run, str(text_workflow)],
        }
        for command in commands.values():  # warm the bytecode cache and create the folders
            seconds(command, env)
        server_figures(base, args.port, env)
        figures: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for label, command in commands.items():
                figures.setdefault(label, []).append(seconds(command, env))
            for key, value in server_figures(base, args.port, env).items():
                figures.setdefault(key, []).append(value)
    cache = "no bytecode cache" if args.no_bytecode_cache else "bytecode cached"
    print(f"{args.repeats} fresh processes each, {cache} (noisy on a shared machine)")
    for label in commands:
        show(label, figures[label])
    show("server: start -> GET /prompt answers", figures["ready"])
    show("server: RSS when GET /prompt answers", figures["rss_ready"], "MiB")
    show("server: slowest GET /prompt while the nodes load", figures["lag"])
    show(f"server: start -> /object_info ({int(figures['node_count'][0])} nodes)", figures["nodes"])
    show("server: RSS once the nodes have loaded", figures["rss_nodes"], "MiB")


if __name__ == "__main__":
    main()
