"""A server killed with SIGKILL loses nothing: pending prompts stay queued, the running one re-runs; SIGINT and
SIGTERM stop it in order."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.server.helpers import PACKS_DIR, show_prompt, slow_prompt

ROOT = Path(__file__).resolve().parents[2]
EXEC_IGNORING_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def _start(base: Path, sigint_ignored: bool = False) -> tuple[subprocess.Popen, str]:
    """`python main.py --port 0` with the test pack; returns (process, base URL) once it serves.
    `sigint_ignored`: started as a script's `&` job is, with SIGINT ignored."""
    command = [sys.executable, "main.py", "--port", "0", "--base-directory", str(base),
               "--custom-nodes-dir", str(PACKS_DIR)]
    if sigint_ignored:  # an ignored signal stays ignored across exec
        command = [sys.executable, "-c", EXEC_IGNORING_SIGINT, *command[1:]]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    for line in proc.stdout:
        lines.append(line)
        found = re.search(r"serving on (http://[\d.]+:\d+)", line)
        if found:
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep the pipe drained
            return proc, found.group(1)
    raise AssertionError("server did not start:\n" + "".join(lines))


def _call(url: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _poll(predicate, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_sigkill_while_running_loses_nothing(tmp_path):
    proc, url = _start(tmp_path)
    try:
        running = _call(f"{url}/prompt", {"prompt": slow_prompt(9, steps=80, delay=0.05), "prompt_id": "slow"})["prompt_id"]
        pending = [_call(f"{url}/prompt", {"prompt": show_prompt(i), "prompt_id": f"after-{i}"})["prompt_id"]
                   for i in range(3)]
        state = _poll(lambda: {"pending": None}.get(s := _call(f"{url}/prompt/slow")["state"], s),
                      "the slow prompt to start")
        assert state == "running"  # the pending prompts wait behind it
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()

    proc, url = _start(tmp_path)
    try:
        for prompt_id in [running, *pending]:
            entry = _poll(lambda pid=prompt_id: _call(f"{url}/history/{pid}"), f"{prompt_id} in history")
            assert entry[prompt_id]["status"]["status_str"] == "success", entry
        assert _call(f"{url}/history/slow")["slow"]["outputs"] == {"2": {"value": [9]}}
        assert _call(f"{url}/history/after-2")["after-2"]["outputs"] == {"4": {"value": [4]}}
        _call(f"{url}/prompt", {"prompt": slow_prompt(5, steps=60, delay=0.05), "prompt_id": "graceful"})
        _poll(lambda: _call(f"{url}/prompt/graceful")["state"] == "running", "the second slow prompt to start")
    finally:
        proc.send_signal(signal.SIGINT)  # a clean stop while "graceful" runs
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    proc, url = _start(tmp_path)  # history survives, and the prompt cut short by the stop runs again
    try:
        assert _call(f"{url}/prompt/graceful")["state"] in ("pending", "running")
        entry = _poll(lambda: _call(f"{url}/history/graceful"), "graceful in history")["graceful"]
        assert entry["status"]["status_str"] == "success"
        assert set(_call(f"{url}/history")) == {running, *pending, "graceful"}
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize(("sent", "sigint_ignored"), [(signal.SIGINT, False), (signal.SIGTERM, False),
                                                      (signal.SIGINT, True)],
                         ids=["ctrl-c", "sigterm", "ctrl-c-started-ignoring-it"])
async def test_a_stop_signal_with_an_editor_connected_stops_at_once_and_the_prompt_runs_again(
        tmp_path, sent, sigint_ignored):
    """An open editor holds a websocket; SIGINT, or SIGTERM (docker stop, systemd), closes it and cuts the
    running prompt short, which the next start runs again (before: with SIGINT the server was still up 10
    minutes later; SIGTERM killed it, socket unclosed; SIGINT did nothing to a server started ignoring it)."""
    import aiohttp

    proc, url = _start(tmp_path, sigint_ignored)
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws?clientId=editor") as ws:
            _call(f"{url}/prompt", {"prompt": slow_prompt(5, steps=200, delay=0.05), "prompt_id": "cut"})
            _poll(lambda: _call(f"{url}/prompt/cut")["state"] == "running", "the prompt to start")
            proc.send_signal(sent)
            await asyncio.wait_for(_drain(ws), 30)
            assert ws.close_code == 1001  # "going away": the server closed it
            assert proc.wait(30) == 0
    finally:
        proc.kill()
    proc, url = _start(tmp_path)
    try:
        assert _call(f"{url}/prompt/cut")["state"] in ("pending", "running")
        entry = _poll(lambda: _call(f"{url}/history/cut"), "the prompt in history")["cut"]
        assert entry["status"]["status_str"] == "success"
        assert entry["outputs"] == {"2": {"value": [5]}}
    finally:
        proc.kill()
        proc.wait(10)


async def _drain(ws) -> None:
    """Read (and drop) messages until the server closes the socket."""
    async for _message in ws:
        pass
