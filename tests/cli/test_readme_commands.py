"""Every shell command in README.md, tried as a new user would on a fresh clone: the ones that need no model,
no network and no cluster run as written and succeed; one that needs a model says which file is missing
and where it goes. A new README command must be classified here, or this test fails."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL_INPUTS = ("ckpt_name", "unet_name", "lora_name", "control_net_name", "vae_name", "clip_name", "model_name")


def readme_commands() -> list[str]:
    """The commands of README's ```bash blocks: continuations joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    return commands


def kind(command: str, clone: Path) -> str:
    """installs (network), cluster (Ray), needs-model, or runs."""
    if "pip install" in command or "-m venv" in command or command.startswith("bash .ci/run"):
        return "installs"
    if command.startswith("ray ") or "--executor ray" in command:
        return "cluster"
    words = command.split()
    if words[:3] == ["python", "main.py", "run"]:
        source = clone / words[3]
        if source.suffix == ".json" and any(f'"{name}"' in source.read_text() for name in MODEL_INPUTS):
            return "needs-model"
        return "runs"
    return "unclassified"


def fresh_clone(target: Path) -> Path:
    """The repository's files (tracked, and new ones git does not ignore) copied to `target`."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def run(command: str, clone: Path) -> subprocess.CompletedProcess:
    return subprocess.run(re.sub(r"^python ", f"{sys.executable} ", command), shell=True, cwd=clone,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    return fresh_clone(tmp_path_factory.mktemp("fresh-clone"))


def test_every_readme_command_is_known_and_the_model_free_ones_run_as_written(clone):
    commands = readme_commands()
    kinds = {command: kind(command, clone) for command in commands}
    assert "unclassified" not in kinds.values(), [c for c, k in kinds.items() if k == "unclassified"]
    runnable = [c for c in commands if kinds[c] == "runs"]
    assert len(runnable) >= 2
    for command in runnable:  # in README order: a later one may read what an earlier one wrote
        result = run(command, clone)
        assert result.returncode == 0, (command, result.stderr[-2000:])
        assert "Traceback" not in result.stderr, (command, result.stderr[-2000:])
    named = set(re.findall(r"`models/([a-z_]+)/`", (REPO / "README.md").read_text()))
    assert {"checkpoints", "loras", "controlnet", "embeddings"} <= named
    assert all((clone / "models" / folder).is_dir() for folder in named)  # the first start made them


def test_a_readme_command_that_needs_a_model_names_the_file_and_its_folder(clone):
    needing = [c for c in readme_commands() if kind(c, clone) == "needs-model"]
    assert needing
    result = run(needing[0], clone)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "Model file not found in models/checkpoints" in result.stderr
    assert str(clone) not in result.stderr  # folders shown relative, never the server's layout
