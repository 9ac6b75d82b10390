"""Loom's entry point: `python main.py run WORKFLOW` runs headless; see launch/cli.py for the commands."""

import sys
from pathlib import Path

from launch.cli import main

if __name__ == "__main__":
    sys.exit(main(base_dir=Path(__file__).resolve().parent))
