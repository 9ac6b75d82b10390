"""The SD1.5 text-to-image workflow runs through the headless CLI on a tiny checkpoint."""

import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.fixtures.workflow_runner import WORKFLOWS

ROOT = Path(__file__).resolve().parents[2]


def test_cli_runs_sd15_txt2img_and_writes_a_png(tmp_path, models_dir):
    output = tmp_path / "out"
    command = [sys.executable, "main.py", "run", str(WORKFLOWS / "sd15_txt2img.json"), "--models-dir", str(models_dir),
               "--output-directory", str(output), "--base-directory", str(tmp_path), "--ram-budget", "1GB",
               "--set", "5.width=64", "--set", "5.height=64", "--set", "3.steps=3"]
    done = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    pngs = list(output.glob("sd15_txt2img_*.png"))
    assert len(pngs) == 1
    assert Image.open(pngs[0]).size == (64, 64)
