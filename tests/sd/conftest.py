"""A Loom installation for SD tests: tiny checkpoints under the real file names, folders, a model manager,
the core registry and an executor; workflows from workflows/ shrunk to 64x64 and a few steps."""

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from engine.graph.context import Services
from engine.graph.events import EventLog
from engine.graph.executor import Executor
from engine.graph.native import Node, NodeOutput, Socket, node
from engine.graph.registry import build_default_registry
from engine.memory import ModelManager
from engine.paths import Folders
from tests.fixtures.checkpoints import make_tiny_checkpoint, tiny_vae_state_dict

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
CHECKPOINTS = {
    "v1-5-pruned-emaonly.safetensors": "sd15",
    "v2-1_768-ema-pruned.safetensors": "sd21v",
    "sd_xl_base_1.0.safetensors": "sdxl",
    "sd_xl_refiner_1.0.safetensors": "sdxl_refiner",
}
VAE_FILE = "vae-ft-mse-840000-ema-pruned.safetensors"
SIZE = 64


@node(category="testing", outputs=[], output_node=True)
class CaptureLatent(Node):
    """Test-only output node: hands a LATENT back through the ui dict."""

    samples: Annotated[object, Socket("LATENT")]

    def run(self, ctx):
        return NodeOutput(result=(), ui={"latent": [self.samples]})


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    for name, family in CHECKPOINTS.items():
        make_tiny_checkpoint(family, root / "checkpoints" / name)
    (root / "vae").mkdir()
    save_file(tiny_vae_state_dict(), str(root / "vae" / VAE_FILE))  # bare keys, as standalone VAEs ship
    return root


def workflow(name: str, steps: int = 3) -> dict:
    """A workflow from workflows/, shrunk: SIZE x SIZE latents and `steps` sampling steps."""
    prompt = json.loads((WORKFLOWS / f"{name}.json").read_text())
    for entry in prompt.values():
        inputs = entry["inputs"]
        if entry["class_type"] == "EmptyLatentImage":
            inputs.update(width=SIZE, height=SIZE)
        if entry["class_type"].startswith("KSampler"):
            inputs["steps"] = steps
    return prompt


class Loom:
    """One installation: folders in `base`, a CPU model manager, the core nodes and an executor."""

    def __init__(self, base: Path, models_dir: Path, **manager_options):
        self.folders = Folders(base, models_dir=models_dir)
        self.folders.ensure()
        self.events = EventLog()
        self.manager = ModelManager(device="cpu", **manager_options)
        self.registry, report = build_default_registry(Services(folders=self.folders, models=self.manager))
        assert not report.core_errors, report.core_errors
        self.registry.register(CaptureLatent)
        self.executor = Executor(self.registry)

    def run(self, prompt: dict, fresh: bool = True):
        """Run a prompt (by default without the graph cache of earlier runs); raise on failure."""
        if fresh:
            self.executor.reset()
        result = self.executor.run(prompt, sink=self.events)
        assert result.status == "success", result.error or result.node_errors
        return result

    def image(self, result, node_id: str = "9") -> np.ndarray:
        """The first PNG a SaveImage node wrote, as float RGB."""
        saved = result.outputs[node_id]["images"][0]
        path = self.folders.output_dir / saved["subfolder"] / saved["filename"]
        return np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)

    def model_events(self) -> list[tuple[str, str, str]]:
        return [(e.type, e.data["model"], e.data["to"]) for e in self.events.events
                if e.type in ("model_load", "model_offload")]

    def put_input_image(self, name: str, alpha_hole: bool = False) -> None:
        """A smooth colour image in input/; with alpha_hole, a transparent square in the middle."""
        y, x = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1)
        rgb = np.stack([x, y, 1 - x * y], axis=-1)
        channels = [rgb]
        if alpha_hole:
            alpha = np.ones((SIZE, SIZE, 1))
            alpha[SIZE // 4:3 * SIZE // 4, SIZE // 4:3 * SIZE // 4] = 0
            channels.append(alpha)
        pixels = (np.concatenate(channels, axis=-1) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(self.folders.input_dir / name)


@pytest.fixture
def loom(tmp_path, models_dir) -> Loom:
    return Loom(tmp_path, models_dir)
