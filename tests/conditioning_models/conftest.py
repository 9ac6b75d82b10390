"""Tiny SD1.5 checkpoints: the plain one, an inpainting one (9 UNet input channels) and an InstructPix2Pix
one (8), and a Loom installation with an input picture."""

import pytest
import torch
from safetensors.torch import save_file

from tests.fixtures.checkpoints import tiny_checkpoint_state_dict
from tests.fixtures.workflow_runner import Loom

FILES = {"plain.safetensors": 4, "inpainting.safetensors": 9, "ip2p.safetensors": 8}


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    for name, channels in FILES.items():
        sd = tiny_checkpoint_state_dict("sd15")
        key = "model.diffusion_model.input_blocks.0.0.weight"
        sd[key] = torch.randn(sd[key].shape[0], channels, 3, 3, generator=torch.Generator().manual_seed(5)) * 0.1
        save_file({k: v.contiguous() for k, v in sd.items()}, str(root / "checkpoints" / name))
    return root


@pytest.fixture
def loom(tmp_path, models_dir) -> Loom:
    installation = Loom(tmp_path, models_dir)
    installation.put_input_image("source.png")
    return installation
