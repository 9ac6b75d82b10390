"""A Loom installation with a tiny SD2.1 unCLIP checkpoint (and a plain SD1.5 one) under real file names,
and an input picture for the image encoder."""

import pytest

from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.unclip_checkpoint import save_tiny_unclip
from tests.fixtures.workflow_runner import Loom

UNCLIP_FILE = "sd21-unclip-h.safetensors"
PLAIN_FILE = "v1-5-pruned-emaonly.safetensors"


@pytest.fixture(scope="session")
def unclip_models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    save_tiny_unclip("sd21_unclip", root / "checkpoints" / UNCLIP_FILE)
    make_tiny_checkpoint("sd15", root / "checkpoints" / PLAIN_FILE)
    return root


@pytest.fixture
def loom(tmp_path, unclip_models_dir) -> Loom:
    installation = Loom(tmp_path, unclip_models_dir)
    installation.put_input_image("example.png")
    return installation
