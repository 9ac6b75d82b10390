"""Run ComfyUI's own execution test suite (tests/execution) unchanged against Loom's server.

The suite starts its server as `python main.py --output-directory D --listen H --port P
--extra-model-paths-config tests/execution/extra_model_paths.yaml --cpu [--cache-lru N]` from its current
folder. This script assembles a run folder from a ComfyUI checkout (the suite, its testing_nodes pack and its
conftest.py, copied, never committed) plus a `main.py` that starts Loom instead, then runs pytest there with
timing checks on and prints the count and every failing test.

    python tools/comfy_execution_suite.py /path/to/ComfyUI [--port 18200] [--run-dir DIR]
        [--client-python /path/to/comfy_venv/bin/python] [-- PYTEST ARGS]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

LOOM_ROOT = Path(__file__).resolve().parent.parent

LAUNCHER = '''"""Started by ComfyUI's execution suite as `python main.py ...`: serves Loom with those flags.

The run folder holds ComfyUI's comfy_execution helpers for the test client; the server must not see them.
Each start gets a user folder of its own{fresh_note}.
"""
import os
import sys
import time
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if p not in ("", ".", str(here))]
sys.path.insert(0, {loom_root!r})
from launch.cli import main  # noqa: E402

user = here / "user"{user_suffix}
sys.exit(main(["--user-directory", str(user), *sys.argv[1:]], base_dir=here))
'''
FRESH_NOTE = (": ComfyUI keeps history in memory, so every server the suite starts begins with an empty one; "
              "Loom keeps it in the user folder")


def assemble(comfy: Path, run_dir: Path, fresh_history: bool = True) -> None:
    """Copy the suite, its node pack, its pytest config and the client-side graph helpers it imports
    (comfy_execution/graph_utils.py) from `comfy`; write the Loom launcher."""
    source = comfy / "tests"
    if not (source / "execution" / "test_execution.py").is_file():
        raise SystemExit(f"error: {comfy} is not a ComfyUI checkout (no tests/execution/test_execution.py)")
    tests = run_dir / "tests"
    if tests.exists():
        shutil.rmtree(tests)
    shutil.copytree(source / "execution", tests / "execution",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("conftest.py", "__init__.py"):
        shutil.copy2(source / name, tests / name)
    helpers = run_dir / "comfy_execution"
    helpers.mkdir(exist_ok=True)
    shutil.copy2(comfy / "comfy_execution" / "graph_utils.py", helpers / "graph_utils.py")
    suffix = ' / f"server-{time.time_ns()}-{os.getpid()}"' if fresh_history else ""
    launcher = LAUNCHER.format(loom_root=str(LOOM_ROOT), user_suffix=suffix,
                               fresh_note=FRESH_NOTE if fresh_history else " shared by every start (history persists)")
    (run_dir / "main.py").write_text(launcher)
    for folder in ("output", "user", "input", "temp", "models", "custom_nodes"):
        (run_dir / folder).mkdir(exist_ok=True)


def run_suite(run_dir: Path, port: int, client_python: str, pytest_args: list[str]) -> tuple[int, str]:
    """pytest (run by `client_python`, which needs pytest and websocket-client) over tests/execution in
    `run_dir`; the `python` the suite starts its servers with is this interpreter (Loom's environment)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for name in ("PYTHONPATH", "PYTEST_ADDOPTS", "VIRTUAL_ENV"):
        env.pop(name, None)
    env["COLUMNS"] = "400"  # wide enough that pytest's summary keeps each failure's reason
    command = [client_python, "-m", "pytest", "tests/execution", "-p", "no:cacheprovider", "-rfE",
               "--port", str(port), "--output_dir", str(run_dir / "output"), *pytest_args]
    proc = subprocess.Popen(command, cwd=run_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    return proc.wait(), "".join(lines)


def summarize(output: str) -> str:
    """The pass count and each failing test's one-line reason, from pytest's -rfE summary."""
    failures = re.findall(r"^(?:FAILED|ERROR) (\S+)(?: - (.*))?$", output, flags=re.MULTILINE)
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|errors?|skipped)", output)}
    passed = counts.get("passed", 0)
    total = passed + counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    lines = [f"Loom passes {passed}/{total} of ComfyUI's execution suite"]
    lines += [f"  failing: {name} - {reason or '(see log)'}" for name, reason in failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("comfy", type=Path, help="a ComfyUI checkout (its tests/execution is run)")
    parser.add_argument("--port", type=int, default=18200, help="port the suite's servers listen on")
    parser.add_argument("--run-dir", type=Path, default=None, help="run folder (default: a new temp folder)")
    parser.add_argument("--keep-history", action="store_true",
                        help="let every server start share one user folder, so history persists across the "
                             "suite's restarts (ComfyUI keeps it in memory; three offset tests then fail)")
    parser.add_argument("--client-python", default=sys.executable,
                        help="interpreter running pytest and the suite's client (needs pytest, websocket-client, "
                             "torch, numpy, Pillow; e.g. ComfyUI's venv); default: this one")
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)
    run_dir = (args.run_dir or Path(tempfile.mkdtemp(prefix="loom-comfy-suite-"))).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    assemble(args.comfy.resolve(), run_dir, fresh_history=not args.keep_history)
    print(f"run folder: {run_dir}", flush=True)
    code, output = run_suite(run_dir, args.port, args.client_python, pytest_args)
    print(summarize(output))
    return code


if __name__ == "__main__":
    sys.exit(main())
