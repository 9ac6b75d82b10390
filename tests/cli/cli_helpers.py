"""Paths and a subprocess runner shared by the CLI tests."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "workflows"


def run_main_subprocess(*args, **run_kwargs) -> subprocess.CompletedProcess:
    """`python main.py ARGS` from the repository root, output captured as text."""
    return subprocess.run([sys.executable, str(REPO / "main.py"), *map(str, args)], check=False,
                          capture_output=True, text=True, cwd=REPO, timeout=300, **run_kwargs)
