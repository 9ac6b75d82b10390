"""The start-up wiring (command line, server flags, web app) imports without torch, so `--help` and the
server's own set-up never wait for it: torch comes in with the nodes and models that need it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_cli_and_server_wiring_leaves_torch_unimported():
    code = ("import sys, launch.cli, launch.serve, launch.compute_flags, web.app; "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_cli_help_leaves_torch_unimported():
    code = ("import sys, runpy; sys.argv = ['main.py', '--help']\n"
            "try:\n    runpy.run_path('main.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stderr.strip().splitlines()[-1] == "False"


SERVE_AND_REPORT = """
import sys
import web.nodes_loading as loading
start = loading.NodesLoading.start

def report_then_start(self):
    print("torch imported when the port opened:", "torch" in sys.modules, flush=True)
    start(self)

loading.NodesLoading.start = report_then_start
from launch.cli import main
main(["--port", "0", "--base-directory", sys.argv[1], "--disable-all-custom-nodes"])
"""


def test_the_server_opens_its_port_before_torch_is_imported(tmp_path):
    server = subprocess.Popen([sys.executable, "-c", SERVE_AND_REPORT, str(tmp_path)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        serving = server.stdout.readline()
        reported = server.stdout.readline()
    finally:
        server.kill()
        server.wait(30)
    assert serving.startswith("Loom is serving on http://127.0.0.1:")
    assert reported.strip() == "torch imported when the port opened: False"
