"""Start-up figures: how long until the server answers, and how long a model-free headless workflow takes.

Prints, as the median and best of --repeats fresh processes: `import torch` alone (the floor while the
node modules import torch), importing the start-up wiring (launch, web; torch-free), the wall time of
`python main.py run workflows/image_invert_and_scale.json`, and the time from `python main.py --port P`
to the first answer of GET /prompt with the server's RSS then. Targets (issue 16): both within 1 s.

    python benchmarks/startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIRING = "import launch.cli, launch.serve, web.app"


def python_seconds(code: str) -> float:
    """Wall time of a fresh interpreter running `code` from the repository root."""
    began = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - began


def headless_seconds(base: Path) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "main.py", "--base-directory", str(base), "run",
                    "workflows/image_invert_and_scale.json"], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - began


def server_ready(base: Path, port: int, timeout: float = 300.0) -> tuple[float, float]:
    """(seconds until GET /prompt answers, RSS MiB then) of a fresh server."""
    began = time.perf_counter()
    process = subprocess.Popen([sys.executable, "main.py", "--port", str(port), "--base-directory", str(base)],
                               cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - began < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/prompt", timeout=1):
                    ready = time.perf_counter() - began
                    status = Path(f"/proc/{process.pid}/status").read_text()
                    rss = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
                    return ready, rss / 1024
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("server not ready in time")
    finally:
        process.terminate()
        process.wait(30)


def show(label: str, values: list[float], unit: str = "s") -> None:
    print(f"{label:44s} median {statistics.median(values):7.2f} {unit}   best {min(values):7.2f} {unit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=19010)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {k: [] for k in ("torch", "wiring", "headless", "ready", "rss")}
    with tempfile.TemporaryDirectory(prefix="loom-startup-") as tmp:
        for _ in range(args.repeats):
            figures["torch"].append(python_seconds("import torch"))
            figures["wiring"].append(python_seconds(WIRING))
            figures["headless"].append(headless_seconds(Path(tmp)))
            ready, rss = server_ready(Path(tmp), args.port)
            figures["ready"].append(ready)
            figures["rss"].append(rss)
    print(f"{args.repeats} fresh processes each (noisy on a shared machine)")
    show("python -c 'import torch'", figures["torch"])
    show(f"python -c '{WIRING}'", figures["wiring"])
    show("main.py run image_invert_and_scale.json", figures["headless"])
    show("server: start -> GET /prompt answers", figures["ready"])
    show("server: RSS at ready", figures["rss"], "MiB")


if __name__ == "__main__":
    main()
