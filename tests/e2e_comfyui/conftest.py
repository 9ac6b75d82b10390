"""Fixtures for ComfyUI's own editor served by Loom (`--front-end comfyui`): a real server with a tiny
checkpoint under the name the official "Image Generation" template asks for, a web-only test pack,
and Debian's Chromium with every console error, page error and failed request recorded."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, _running_server

PACKS = Path(__file__).resolve().parent / "packs"
TEMPLATE_CHECKPOINT = "v1-5-pruned-emaonly-fp16.safetensors"  # what the "default" template loads
ARTIFACTS = ROOT / "artifacts" / "e2e_comfyui"
# Loader classes the editor (1.27.10) looks up in /object_info when it builds any model combo; a
# missing one leaves the widget broken ("UNKNOWN") with a TypeError in the page.
EDITOR_MODEL_LOADERS = ("CheckpointLoaderSimple", "ImageOnlyCheckpointLoader", "LoraLoader", "LoraLoaderModelOnly",
                        "VAELoader", "ControlNetLoader", "UNETLoader", "UpscaleModelLoader", "StyleModelLoader",
                        "GLIGENLoader")
# Errors this editor version logs by itself; each was seen with ComfyUI 0.3.64 serving it, too.
# A page error on every start: Comfy.Canvas.NavigationMode's onChange sets a setting that is not
# registered yet (message, and a frame of its stack):
KNOWN_PAGE_ERROR = ("Cannot read properties of undefined (reading 'id')", "addSetting")
# Logged by the minimap when it is closed:
KNOWN_CONSOLE_ERRORS = ("Attempted to cleanup event listeners for graph that was never set up",)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the canvas in a real headless Chromium against a live server")


def start_server(base: Path):
    """`python main.py --front-end comfyui` over the folders under `base` (reusable to restart)."""
    return _running_server(base, ["--front-end", "comfyui", "--custom-nodes-dir", str(PACKS)])


@pytest.fixture(scope="session")
def comfy_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.fixtures.checkpoints import make_tiny_checkpoint

    base = tmp_path_factory.mktemp("loom-comfy-editor")
    (base / "models" / "checkpoints").mkdir(parents=True)
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints" / TEMPLATE_CHECKPOINT)
    return base


@pytest.fixture(scope="module")
def comfy_server(comfy_base: Path):
    """(url, folders) of a running server with ComfyUI's editor at /."""
    if not os.environ.get("CI"):  # under CI the extra is installed; without it the server refuses to start
        pytest.importorskip("comfyui_frontend_package", reason="pip install 'loom-diffusion[comfyui-frontend]'")
    with start_server(comfy_base) as server:
        missing = _missing_loaders(server[0])
        if missing:
            pytest.xfail(f"the editor cannot build model widgets until Loom has {', '.join(missing)}")
        yield server


def _missing_loaders(url: str) -> list[str]:
    with urllib.request.urlopen(url + "/api/object_info", timeout=60) as response:
        known = json.load(response)
    return [name for name in EDITOR_MODEL_LOADERS if name not in known]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium (never a downloaded one); under CI its absence fails instead of skipping."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing at /usr/bin/chromium (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageProblems(list):
    """Console errors, page errors and failed responses seen by one page, minus the known editor bug."""

    def watch(self, page, url: str) -> None:
        page.on("console", lambda m: self.append(f"console: {m.text}")
                if m.type == "error" and m.text not in KNOWN_CONSOLE_ERRORS else None)
        page.on("pageerror", self._page_error)
        page.on("response", lambda r: self.append(f"HTTP {r.status} {r.url}")
                if r.status >= 400 and r.url.startswith(url) else None)

    def _page_error(self, error) -> None:
        message, where = KNOWN_PAGE_ERROR
        if error.message == message and where in (error.stack or ""):
            return
        self.append(f"page error: {error.message}\n{error.stack}")


def open_page(browser, url: str):
    """A fresh context on the editor, ready to use; returns (context, page, problems)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page, url)
    # The test machine has no internet: the editor's release-news request to api.comfy.org gets an
    # empty list (no news) instead of a DNS failure in the console.
    page.route(lambda target: not target.startswith(url),
               lambda route: route.fulfill(status=200, content_type="application/json", body="[]"))
    page.goto(url)
    page.wait_for_function("window.app && window.app.graph && window.app.canvas && window.LiteGraph")
    close_first_run_dialog(page)
    return context, page, problems


def close_first_run_dialog(page) -> None:
    """On a server's first start the editor opens its template browser by itself (and then records
    Comfy.TutorialCompleted); close it so every test starts from the canvas."""
    page.wait_for_function("app.ui.settings.getSettingValue('Comfy.TutorialCompleted') === true")
    page.wait_for_load_state("networkidle")
    first_run = page.get_by_role("dialog").filter(has_text="Get Started with a Template")
    if first_run.count():
        first_run.get_by_role("button", name="Close").click()
        first_run.wait_for(state="detached")


@pytest.fixture
def editor(browser, comfy_server):
    """(page, url, folders) of the editor in a fresh browser context; any problem fails the test."""
    url, folders = comfy_server
    context, page, problems = open_page(browser, url)
    yield page, url, folders
    context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
