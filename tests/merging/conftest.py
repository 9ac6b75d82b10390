"""Tiny SD1.5 / SDXL / SD2.1-v checkpoint pairs (two seeds each) and a Loom installation over them, with
the output folder's checkpoints/ and clip/ searched too, so saved files reload by name."""

from pathlib import Path

import pytest
from safetensors.torch import load_file

from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.workflow_runner import Loom

PAIRS = {"sd15": ("v1-5-pruned-emaonly.safetensors", "dreamshaper_8.safetensors"),
         "sdxl": ("sd_xl_base_1.0.safetensors", "juggernaut_xl.safetensors"),
         "sd21v": ("v2-1_768-ema-pruned.safetensors", "v2-1_768-other.safetensors")}


@pytest.fixture(scope="session")
def merge_models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    for family, names in PAIRS.items():
        for seed, name in enumerate(names):
            make_tiny_checkpoint(family, root / "checkpoints" / name, seed=seed)
    return root


@pytest.fixture
def loom(tmp_path, merge_models_dir) -> Loom:
    installation = Loom(tmp_path, merge_models_dir)
    for kind, folder in (("checkpoints", "checkpoints"), ("clip", "clip"), ("vae", "vae"),
                         ("diffusion_models", "diffusion_models")):
        installation.folders.add_model_folder(kind, installation.folders.output_dir / folder)
    return installation


@pytest.fixture
def source(merge_models_dir):
    """source(name) -> the tensors of a checkpoint in the models folder."""
    return lambda name: load_file(str(merge_models_dir / "checkpoints" / name))
