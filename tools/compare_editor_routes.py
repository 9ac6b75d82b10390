"""Which routes ComfyUI's editor calls when it starts, and what each server answers: ComfyUI itself
versus Loom with `--front-end comfyui`, side by side.

    python tools/compare_editor_routes.py /path/to/ComfyUI /path/to/comfy/python [--port 18710]

Both servers get throwaway folders; the editor is loaded once in Debian's Chromium against each;
requests to the editor's own static files are left out. Prints `route  comfyui-status  loom-status`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATIC = ("/assets/", "/fonts/", "/cursor/", "/extensions/core/", "/scripts/", "blob:", "materialdesignicons", ".webp")


def _wait(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer")


def editor_calls(url: str) -> dict[str, int]:
    """Route (path and query) -> status for every non-static request the editor makes while starting."""
    from playwright.sync_api import sync_playwright

    calls: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.route(lambda target: not target.startswith(url),
                   lambda route: route.fulfill(status=200, content_type="application/json", body="[]"))
        page.on("response", lambda r: calls.setdefault(f"{r.request.method} {r.url.removeprefix(url)}", r.status))
        page.goto(url)
        page.wait_for_function("window.app && window.app.graph")
        # a first start opens the template browser (and then records Comfy.TutorialCompleted)
        page.wait_for_function("app.ui.settings.getSettingValue('Comfy.TutorialCompleted') === true")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(3000)
        browser.close()
    return {route: status for route, status in calls.items() if not any(s in route for s in STATIC)}


def _serve(cmd: list[str], cwd: Path, url: str):
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait(url + "/", proc)
        return editor_calls(url)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfyui", type=Path, help="a ComfyUI 0.3.64 checkout")
    parser.add_argument("comfy_python", help="the Python that runs it (with its requirements)")
    parser.add_argument("--port", type=int, default=18710)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "ComfyUI"
        shutil.copytree(args.comfyui, copy, ignore=shutil.ignore_patterns("__pycache__"))
        comfy_url = f"http://127.0.0.1:{args.port}"
        comfy = _serve([args.comfy_python, "main.py", "--cpu", "--port", str(args.port)], copy, comfy_url)
        loom_url = f"http://127.0.0.1:{args.port + 1}"
        loom = _serve([sys.executable, str(ROOT / "main.py"), "--front-end", "comfyui", "--port", str(args.port + 1),
                       "--base-directory", str(Path(scratch) / "loom")], ROOT, loom_url)
    routes = sorted(set(comfy) | set(loom))
    width = max(len(r) for r in routes)
    print(f"{'route':<{width}}  comfyui  loom")
    for route in routes:
        print(f"{route:<{width}}  {comfy.get(route, '-')!s:>7}  {loom.get(route, '-')!s:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
