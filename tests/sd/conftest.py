"""tests/sd's Loom installation: the four tiny checkpoints and a standalone VAE under their real file names."""

from pathlib import Path

import pytest

from tests.fixtures.workflow_runner import Loom, write_checkpoints, write_vae


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_checkpoints(root)
    write_vae(root)
    return root


@pytest.fixture
def loom(tmp_path, models_dir) -> Loom:
    return Loom(tmp_path, models_dir)
