"""Record ComfyUI's /object_info for Loom's V3 test packs (tests/v3/packs) as test data.

Starts ComfyUI from a checkout on CPU with a temporary base directory whose custom_nodes/ holds copies of
the test packs, fetches /object_info, and writes the entries of the packs' nodes to
tests/v3/data/comfy_object_info_v3.json (tests compare Loom's /object_info with it).

    python tools/comfy_reference/v3_object_info.py /path/to/ComfyUI --python /path/to/comfy_venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "tests" / "v3" / "packs"
OUT = ROOT / "tests" / "v3" / "data" / "comfy_object_info_v3.json"


def fetch_object_info(port: int, server: subprocess.Popen, timeout: float = 180.0) -> dict:
    """Poll /object_info until the server answers (it loads every node first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"error: ComfyUI exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/object_info", timeout=10) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(1.0)
    raise SystemExit("error: ComfyUI did not answer /object_info in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfy", type=Path, help="ComfyUI checkout")
    parser.add_argument("--python", default=sys.executable, help="interpreter with ComfyUI's requirements")
    parser.add_argument("--port", type=int, default=18250)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="comfy-v3-info-") as base:
        custom = Path(base) / "custom_nodes"
        shutil.copytree(PACKS, custom, ignore=shutil.ignore_patterns("__pycache__"))
        server = subprocess.Popen([args.python, "main.py", "--cpu", "--base-directory", base, "--listen", "127.0.0.1",
                                   "--port", str(args.port), "--disable-auto-launch"], cwd=args.comfy)
        try:
            info = fetch_object_info(args.port, server)
        finally:
            server.kill()
            server.wait()
    ours = {name: entry for name, entry in info.items()
            if str(entry.get("python_module", "")).startswith("custom_nodes.")}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(ours)} nodes to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
