"""Text/vision-encoder tests: one thread (shared machine), manifest loading, the shared tokenizer."""

import json
from pathlib import Path

import pytest
import torch

from engine.models.tokenizer import shared_tokenizer

torch.set_num_threads(1)

MANIFESTS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "checkpoints"


@pytest.fixture(scope="session")
def manifest():
    """manifest("sd15") -> the reference key/shape manifest (skips when the reference folder is absent)."""

    def load(name: str) -> dict:
        path = MANIFESTS / f"{name}.json"
        if not path.exists():
            pytest.skip(f"reference manifest {path} not available")
        return json.loads(path.read_text())

    return load


@pytest.fixture(scope="session")
def tokenizer():
    return shared_tokenizer()
