"""tests/sampling_extras' models folder: the tiny checkpoints under their real names, and an empty loras/."""

from pathlib import Path

import pytest

from tests.fixtures.workflow_runner import write_checkpoints


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_checkpoints(root)
    (root / "loras").mkdir(parents=True, exist_ok=True)
    return root
