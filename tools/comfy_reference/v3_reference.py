"""Record what ComfyUI does with Loom's V3 test packs (tests/v3/packs), as test data.

Starts ComfyUI from a checkout on CPU with a temporary base directory whose custom_nodes/ holds copies of
the test packs, then writes
- tests/v3/data/comfy_object_info_v3.json: the /object_info entries of the packs' nodes;
- tests/v3/data/comfy_v3_outputs.json: for each prompt of tests/v3/data/v3_prompts.json, the UI outputs of
  its history entry, or the error type and node error types when ComfyUI refuses the prompt.

    python tools/comfy_reference/v3_reference.py /path/to/ComfyUI --python /path/to/comfy_venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKS = ROOT / "tests" / "v3" / "packs"
DATA = ROOT / "tests" / "v3" / "data"
EXTRA_DATA = {"extra_pnginfo": {"workflow": {}}}


def request(port: int, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data),
                                timeout=30) as response:
        return json.loads(response.read())


def wait_for_server(port: int, server: subprocess.Popen, timeout: float = 180.0) -> dict:
    """/object_info once the server answers (it loads every node first)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"error: ComfyUI exited with code {server.returncode}")
        try:
            return request(port, "/object_info")
        except OSError:
            time.sleep(1.0)
    raise SystemExit("error: ComfyUI did not answer /object_info in time")


def run_prompt(port: int, prompt: dict) -> dict:
    """{"outputs": ui per node} or {"error": type, "node_errors": {node: [types]}}."""
    try:
        prompt_id = request(port, "/prompt", {"prompt": prompt, "extra_data": EXTRA_DATA})["prompt_id"]
    except urllib.error.HTTPError as refused:
        answer = json.loads(refused.read())
        return {"error": answer["error"]["type"],
                "node_errors": {n: sorted(e["type"] for e in v["errors"]) for n, v in answer["node_errors"].items()}}
    for _ in range(600):
        entry = request(port, f"/history/{prompt_id}").get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None:
            return {"outputs": entry["outputs"], "status": entry["status"]["status_str"]}
        time.sleep(0.1)
    raise SystemExit(f"error: prompt {prompt_id} did not finish")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfy", type=Path, help="ComfyUI checkout")
    parser.add_argument("--python", default=sys.executable, help="interpreter with ComfyUI's requirements")
    parser.add_argument("--port", type=int, default=18250)
    args = parser.parse_args()
    prompts = json.loads((DATA / "v3_prompts.json").read_text())
    with tempfile.TemporaryDirectory(prefix="comfy-v3-reference-") as base:
        shutil.copytree(PACKS, Path(base) / "custom_nodes", ignore=shutil.ignore_patterns("__pycache__"))
        server = subprocess.Popen([args.python, "main.py", "--cpu", "--base-directory", base, "--listen", "127.0.0.1",
                                   "--port", str(args.port), "--disable-auto-launch"], cwd=args.comfy)
        try:
            info = wait_for_server(args.port, server)
            outputs = {name: run_prompt(args.port, prompt) for name, prompt in prompts.items()}
        finally:
            server.kill()
            server.wait()
    ours = {name: entry for name, entry in info.items()
            if str(entry.get("python_module", "")).startswith("custom_nodes.")}
    (DATA / "comfy_object_info_v3.json").write_text(json.dumps(ours, indent=1, sort_keys=True) + "\n")
    (DATA / "comfy_v3_outputs.json").write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(ours)} nodes and {len(outputs)} prompt outcomes to {DATA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
