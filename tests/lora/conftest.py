"""A model folder with tiny SD1.5 / SDXL checkpoints, a CPU model manager and a node context."""

from pathlib import Path

import pytest
import torch

from engine.graph.context import ExecutionContext, Services
from engine.memory import ModelManager
from engine.paths import Folders
from nodes.loaders import CheckpointLoaderSimple
from tests.fixtures.lora_files import save_lora
from tests.fixtures.steering_models import loom, models_dir
from tests.fixtures.workflow_runner import CHECKPOINTS, write_checkpoints

__all__ = ["loom", "models_dir"]  # the workflow tests' installation

FAMILIES = ("sd15", "sdxl")
CHECKPOINT_OF = {family: name for name, family in CHECKPOINTS.items() if family in FAMILIES}


@pytest.fixture(scope="session")
def lora_models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    write_checkpoints(root, FAMILIES)
    (root / "loras").mkdir()
    return root


class Env:
    """Folders, a manager and a context for calling loader nodes directly."""

    def __init__(self, base: Path, models_dir: Path):
        self.folders = Folders(base, models_dir=models_dir)
        self.manager = ModelManager(device="cpu", ram_budget=1 << 30)
        self.events = []
        self.manager.subscribe(self.events.append)
        self.ctx = ExecutionContext("1", "p", {}, Services(folders=self.folders, models=self.manager))

    def checkpoint(self, family: str):
        return CheckpointLoaderSimple(ckpt_name=CHECKPOINT_OF[family]).run(self.ctx)

    def save(self, name: str, tensors) -> str:
        save_lora(tensors, self.folders.models_dir / "loras" / name)
        return name

    def weights(self, handle) -> dict[str, torch.Tensor]:
        """Copies of the module's tensors as placed with `handle`'s patches."""
        return {k: v.clone() for k, v in self.manager.load(handle).state_dict().items()}


@pytest.fixture
def env(tmp_path, lora_models_dir) -> Env:
    return Env(tmp_path, lora_models_dir)
