"""Loom's entry point: `python main.py run WORKFLOW` runs headless; see engine/cli.py for the commands."""

import sys
from pathlib import Path

from engine.cli import main

if __name__ == "__main__":
    sys.exit(main(base_dir=Path(__file__).resolve().parent))
