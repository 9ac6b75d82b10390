"""The model manager under real workflows: budgets force offload/reload, consecutive prompts share weights,
and a VAE decode that runs out of memory retries in tiles."""

import os

import numpy as np
import torch

from engine.graph.context import ExecutionContext, Services
from engine.models.vae import AutoencoderKL
from nodes.loaders import CheckpointLoaderSimple
from nodes.vae_nodes import vae_decode
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.workflow_runner import Loom, workflow

SD15 = "v1-5-pruned-emaonly.safetensors"
SDXL = "sd_xl_base_1.0.safetensors"


def _events_of(loom, model_name):
    return [(kind, to) for kind, name, to in loom.model_events() if name == model_name]


def test_budget_smaller_than_two_checkpoints_offloads_then_reloads_same_result(tmp_path, models_dir):
    sizes = [(models_dir / "checkpoints" / name).stat().st_size for name in (SD15, SDXL)]
    loom = Loom(tmp_path, models_dir, ram_budget=int(max(sizes) * 1.1))
    assert sum(sizes) > loom.manager.ram_budget

    first = loom.image(loom.run(workflow("sd15_txt2img")))
    loom.run(workflow("sdxl_txt2img"))
    again = loom.image(loom.run(workflow("sd15_txt2img")))

    assert _events_of(loom, f"{SD15} (unet)") == [("model_load", "cpu"), ("model_offload", "disk"),
                                                  ("model_load", "cpu")]
    loads = [e.data for e in loom.events.events if e.type == "model_load"]
    assert not any(data["over_budget"] for data in loads)
    assert loom.manager.used("cpu") <= loom.manager.ram_budget
    assert np.array_equal(first, again)


def test_model_used_by_consecutive_workflows_is_loaded_once(loom):
    loom.put_input_image("example.png")
    loom.run(workflow("sd15_txt2img"))
    loom.run(workflow("sd15_img2img"))  # a different workflow, run without the graph cache
    loads = [name for kind, name, _ in loom.model_events() if kind == "model_load"]
    assert sorted(loads) == [f"{SD15} (clip)", f"{SD15} (unet)", f"{SD15} (vae)"]


def test_vae_decode_out_of_memory_retries_in_tiles_after_offloading_others(loom, monkeypatch):
    ctx = ExecutionContext("1", "p", {}, Services(folders=loom.folders, models=loom.manager))
    loom.manager.subscribe(loom.events)
    model, _, vae = CheckpointLoaderSimple(ckpt_name=SD15).run(ctx)
    loom.manager.load(model.handle)
    latents = torch.randn(1, 4, 16, 16)
    expected = vae_decode(loom.manager, vae, latents, tile=8, overlap=2, force_tiles=True)

    real_decode = AutoencoderKL.decode
    pieces = []

    def decode_small_only(self, z):
        if z.shape[-1] * z.shape[-2] > 64:
            raise torch.OutOfMemoryError("simulated: not enough memory for this decode")
        pieces.append(tuple(z.shape[-2:]))
        return real_decode(self, z)

    monkeypatch.setattr(AutoencoderKL, "decode", decode_small_only)
    tiled = vae_decode(loom.manager, vae, latents, tile=8, overlap=2)

    assert pieces and all(h <= 8 and w <= 8 for h, w in pieces)
    assert tiled.shape == (1, 128, 128, 3)
    assert torch.allclose(tiled, expected, atol=1e-6)
    assert ("model_offload", f"{SD15} (unet)", "disk") in loom.model_events()


def test_checkpoint_replaced_on_disk_is_reloaded_even_with_the_graph_cache(tmp_path, models_dir):
    private = tmp_path / "models"
    (private / "checkpoints").mkdir(parents=True)
    path = private / "checkpoints" / SD15
    path.write_bytes((models_dir / "checkpoints" / SD15).read_bytes())
    loom = Loom(tmp_path / "home", private)
    first = loom.image(loom.run(workflow("sd15_txt2img"), fresh=False))
    make_tiny_checkpoint("sd15", path, seed=3)
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 10**9))
    second = loom.image(loom.run(workflow("sd15_txt2img"), fresh=False))
    assert not np.array_equal(first, second)
    assert _events_of(loom, f"{SD15} (unet)") == [("model_load", "cpu"), ("model_offload", "disk"),
                                                  ("model_load", "cpu")]
