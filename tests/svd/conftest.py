"""SVD tests: the tiny SVD checkpoint builder registered, and a Loom installation with tiny SVD / SDXL checkpoints under their real file names."""

import shutil
from pathlib import Path

import pytest

import tests.fixtures.svd_checkpoint  # noqa: F401  (registers make_tiny_checkpoint("svd"))
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.workflow_runner import Loom


@pytest.fixture(scope="session")
def svd_models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("svd_models")
    (root / "checkpoints").mkdir()
    svd = make_tiny_checkpoint("svd", root / "checkpoints" / "svd.safetensors")
    shutil.copy(svd, root / "checkpoints" / "svd_xt.safetensors")
    make_tiny_checkpoint("sdxl", root / "checkpoints" / "sd_xl_base_1.0.safetensors")
    return root


@pytest.fixture
def loom(tmp_path, svd_models_dir) -> Loom:
    return Loom(tmp_path, svd_models_dir)
