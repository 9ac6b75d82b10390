"""Fixtures for the canvas end-to-end tests: a real Loom server on a loopback port and Debian's Chromium."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.needs import need_file, need_module

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts" / "e2e"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives the canvas in a real headless Chromium against a live server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_serving(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Loom server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # answering at all (even 401 with a token set) means it is serving
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"Loom server did not answer on {url} within {timeout}s:\n{log.read_text()}")


@contextlib.contextmanager
def _running_server(base: Path, extra_args: list[str]):
    """Run `python main.py` on an ephemeral loopback port with throwaway folders; yields (url, folders)."""
    folders = {name: base / name for name in ("output", "input", "temp", "user", "models")}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    port = _free_port()
    log = base / "server.log"
    cmd = [sys.executable, str(ROOT / "main.py"), "--port", str(port),
           "--output-directory", str(folders["output"]), "--input-directory", str(folders["input"]),
           "--temp-directory", str(folders["temp"]), "--user-directory", str(folders["user"]),
           "--models-dir", str(folders["models"]), *extra_args]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(url + "/", proc, log)
        yield url, folders
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def loom_server(tmp_path_factory: pytest.TempPathFactory):
    """The server the flows run on, with a tiny SD1.5 checkpoint (and a broken one) in its models folder."""
    from tests.e2e.flows import BROKEN_CHECKPOINT, TINY_CHECKPOINT
    from tests.fixtures.checkpoints import make_tiny_checkpoint

    base = tmp_path_factory.mktemp("loom-e2e")
    (base / "models" / "checkpoints").mkdir(parents=True)
    make_tiny_checkpoint("sd15", base / "models" / "checkpoints" / TINY_CHECKPOINT)
    (base / "models" / "checkpoints" / BROKEN_CHECKPOINT).write_bytes(b"not a safetensors file")
    with _running_server(base, ["--download-host", "127.0.0.1"]) as server:  # test_missing_models' file host
        yield server


E2E_TOKEN = "e2e-secret-token"


@pytest.fixture(scope="session")
def loom_server_with_token(tmp_path_factory: pytest.TempPathFactory):
    with _running_server(tmp_path_factory.mktemp("loom-e2e-token"), ["--auth-token", E2E_TOKEN]) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    """Chromium per test module: Playwright's sync API keeps an event loop running in this thread until it
    stops, and tests outside tests/e2e call asyncio.run, which refuses to start inside a running loop."""
    need_file(CHROMIUM, "Debian's chromium: apt-get install chromium")
    sync_api = need_module("playwright.sync_api", "pip install -e '.[test]'")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


# A browser that has used the canvas before keeps its (here: empty) workflow, so no default workflow opens.
RETURNING_VISITOR_JS = """if (localStorage.getItem('loom.workflow') === null)
  localStorage.setItem('loom.workflow', JSON.stringify({last_node_id: 0, last_link_id: 0, nodes: [], links: [],
    groups: [], config: {}, extra: {}, version: 0.4}));"""


@contextlib.contextmanager
def _canvas_page(browser, url: str, returning: bool):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    if returning:
        context.add_init_script(RETURNING_VISITOR_JS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(url)
    pg.wait_for_selector(".palette-entry")
    yield pg
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser, loom_server):
    """A browser context starting from an empty canvas, with the canvas loaded; page errors fail the test."""
    with _canvas_page(browser, loom_server[0], returning=True) as pg:
        yield pg


@pytest.fixture
def first_visit_page(browser, loom_server):
    """A browser that never opened the canvas (empty localStorage): what a new user sees."""
    with _canvas_page(browser, loom_server[0], returning=False) as pg:
        yield pg


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\ne2e screenshots: {ARTIFACTS}")
    return ARTIFACTS
