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
