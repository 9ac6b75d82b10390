"""Run `main.py` the way a user does: in a subprocess, or in-process through launch.cli.main for speed."""

import json

import pytest
from cli_helpers import REPO

from launch.cli import main


@pytest.fixture
def dirs(tmp_path):
    """Folder flags pointing every writable folder into tmp_path (node packs still come from the repo)."""
    names = ("input", "output", "temp", "user", "models")
    paths = {name: tmp_path / name for name in names}
    flags = [
        "--input-directory", str(paths["input"]), "--output-directory", str(paths["output"]),
        "--temp-directory", str(paths["temp"]), "--user-directory", str(paths["user"]),
        "--models-dir", str(paths["models"]),
    ]
    return paths, flags


@pytest.fixture
def cli(dirs, capsys):
    """cli(*args) -> (exit code, stdout, stderr) for `main.py run ...` run in-process."""
    _, flags = dirs

    def run(*args):
        code = main(["run", *map(str, args), *flags], base_dir=REPO)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def cli_json(cli):
    def run(*args):
        code, out, err = cli(*args, "--json")
        return code, json.loads(out), err

    return run

