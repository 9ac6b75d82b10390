"""Model tests: one thread (the machine is shared), the tiny-checkpoint fixture, manifest loading."""

import json
from pathlib import Path

import pytest
import torch

from tests.fixtures.checkpoints import tiny_checkpoint  # noqa: F401  (pytest fixture)

torch.set_num_threads(1)

MANIFESTS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "checkpoints"


@pytest.fixture(scope="session")
def manifest():
    """Loader: manifest("sd15") -> the reference key/shape manifest dict (skips when absent)."""

    def load(name: str) -> dict:
        path = MANIFESTS / f"{name}.json"
        if not path.exists():
            pytest.skip(f"reference manifest {path} not available")
        return json.loads(path.read_text())

    return load
