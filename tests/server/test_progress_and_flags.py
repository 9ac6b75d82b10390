"""Overall progress figures, the server's network/security defaults from its flags, and startup
problems it reports."""

from __future__ import annotations

import argparse
import asyncio
import logging

from launch.cli import build_parser
from launch.serve import build_app, resolve_token
from launch.serve_flags import add_serve_flags
from web.progress import ProgressTracker
from web.state import NODES, QUEUE


def test_overall_progress_counts_nodes_steps_and_estimates_time_left():
    now = [0.0]
    prompt = {"a": {"inputs": {}}, "b": {"inputs": {"x": ["a", 0]}}, "c": {"inputs": {"x": ["b", 0]}},
              "d": {"inputs": {"x": ["c", 0]}}, "unused": {"inputs": {}}}
    tracker = ProgressTracker("p", prompt, ["d"], clock=lambda: now[0])
    tracker.cached(["a"])
    first = tracker.start("b")
    assert first["nodes"]["b"]["state"] == "running" and first["overall"]["nodes_total"] == 3
    now[0] = 10.0
    second = tracker.start("c")
    assert second["nodes"]["b"]["state"] == "finished" and set(second["nodes"]) == {"b", "c"}
    now[0] = 15.0
    halfway = tracker.step("c", 5, 10)["overall"]
    assert (halfway["nodes_done"], halfway["value"], halfway["max"]) == (1, 5.0, 10.0)
    assert halfway["fraction"] == 0.5 and halfway["eta_s"] == 15.0
    end = tracker.end()
    assert end["nodes"]["c"]["state"] == "finished" and end["overall"]["nodes_done"] == 2


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_serve_flags(parser)
    return parser.parse_args(argv)


def test_defaults_listen_on_loopback_port_8188_without_token(monkeypatch):
    monkeypatch.delenv("LOOM_AUTH_TOKEN", raising=False)
    args = _args()
    assert (args.listen, args.port, args.max_upload_size) == ("127.0.0.1", 8188, 100.0)
    assert resolve_token(args, ["127.0.0.1"]) is None


def test_listening_beyond_loopback_requires_a_token_unless_no_auth(monkeypatch, capsys):
    monkeypatch.delenv("LOOM_AUTH_TOKEN", raising=False)
    args = _args("--listen")
    assert args.listen == "0.0.0.0"
    token = resolve_token(args, ["0.0.0.0"])
    assert token and token in capsys.readouterr().out
    assert resolve_token(_args("--listen", "--no-auth"), ["0.0.0.0"]) is None
    assert resolve_token(_args("--auth-token", "mine"), ["0.0.0.0"]) == "mine"
    monkeypatch.setenv("LOOM_AUTH_TOKEN", "from-env")
    assert resolve_token(_args(), ["127.0.0.1"]) == "from-env"


def test_a_pack_that_fails_to_import_is_logged_and_the_server_still_starts(tmp_path, caplog):
    broken = tmp_path / "packs" / "broken_pack"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('needs the missing_dependency module')\n")
    args = build_parser().parse_args(["--base-directory", str(tmp_path), "--custom-nodes-dir", str(tmp_path / "packs")])
    with caplog.at_level(logging.WARNING, logger="loom.server"):
        app = build_app(args, tmp_path, ["127.0.0.1"])
        app[NODES].start()  # as serve() does once the port is open
        asyncio.run(app[NODES].nodes())
    app[QUEUE].close()
    assert "node pack broken_pack failed to import" in caplog.text
    assert "needs the missing_dependency module" in caplog.text
