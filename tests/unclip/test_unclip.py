"""unCLIP: the SD2.1 unCLIP checkpoint loads with its image encoder, workflows/sd21_unclip.json runs, the
image embedding steers the picture (SDXL too, as its pooled text), and the label vector equals ComfyUI's
(tools/comfy_reference/model_nodes.py ran ComfyUI's unclip_adm with SD2.1-unclip's noise augmentor: exact
in float32)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from engine.models.detect import detect_file
from engine.models.unclip import unclip_label, unclip_vector
from tests.fixtures.workflow_runner import SIZE, workflow
from tests.unclip.conftest import PLAIN_FILE, UNCLIP_FILE

REFERENCE = load_file(str(Path(__file__).parents[1] / "merging" / "data" / "comfy_model_nodes.safetensors"))
CASES = {"plain": (1.0, 0.0, 32), "augmented": (0.7, 0.3, 5), "negative_strength": (-1.5, 0.9, 1234)}


class VisionOutput:
    def __init__(self, image_embeds):
        self.image_embeds = image_embeds


@pytest.mark.parametrize("case", list(CASES))
def test_unclip_label_vector_equals_comfyui(case):
    strength, noise, seed = CASES[case]
    item = {"clip_vision_output": VisionOutput(REFERENCE["unclip/embeds"]), "strength": strength,
            "noise_augmentation": noise}
    torch.testing.assert_close(unclip_vector([item], seed), REFERENCE[f"unclip/{case}"], rtol=0, atol=0)
    label = unclip_label({"unclip_conditioning": [item], "seed": seed + 10}, 32, batch=2)
    assert torch.equal(label, REFERENCE[f"unclip/{case}"].repeat(2, 1))


def test_entries_without_an_image_get_a_zero_label_vector():
    assert torch.equal(unclip_label({"seed": 3}, 32, batch=2), torch.zeros(2, 32))


def test_unclip_checkpoint_is_detected_as_v_prediction_sd2_unclip(unclip_models_dir):
    config, _ = detect_file(unclip_models_dir / "checkpoints" / UNCLIP_FILE)
    assert (config.family, config.prediction_type, config.unet.adm_in_channels) == ("sd2_unclip", "v", 32)


def test_unclip_workflow_writes_an_image_that_follows_the_image_embedding(loom):
    prompt = workflow("sd21_unclip")
    with_image = loom.image(loom.run(prompt))
    assert with_image.shape == (SIZE, SIZE, 3)
    prompt["12"]["inputs"]["strength"] = 0.0
    without = loom.image(loom.run(prompt))
    prompt["3"]["inputs"]["positive"] = ["6", 0]
    assert np.array_equal(without, loom.image(loom.run(prompt)))
    assert np.abs(with_image - without).mean() > 0.5
    prompt["3"]["inputs"]["positive"] = ["12", 0]
    prompt["12"]["inputs"].update(strength=1.0, noise_augmentation=0.9)
    assert not np.array_equal(loom.image(loom.run(prompt)), with_image)


def test_two_unclip_conditionings_stack_on_the_entry(loom):
    prompt = workflow("sd21_unclip")
    prompt["13"] = {"class_type": "unCLIPConditioning", "inputs": {
        "conditioning": ["12", 0], "clip_vision_output": ["11", 0], "strength": 0.5, "noise_augmentation": 0.0}}
    prompt["3"]["inputs"]["positive"] = ["13", 0]
    assert loom.image(loom.run(prompt)).shape == (SIZE, SIZE, 3)


def test_unclip_loader_names_a_checkpoint_without_an_image_embedder(loom):
    prompt = workflow("sd21_unclip")
    prompt["4"]["inputs"]["ckpt_name"] = PLAIN_FILE
    result = loom.executor.run(prompt, sink=loom.events)
    assert result.status != "success"
    assert "unCLIPCheckpointLoader" in str(result.error) and PLAIN_FILE in str(result.error)


def test_sdxl_pooled_text_becomes_the_image_embedding_like_comfyui_revision():
    from engine.values.denoiser import SIZE_EMBED, sdxl_vector

    strength, noise, seed = CASES["plain"]
    item = {"clip_vision_output": VisionOutput(REFERENCE["unclip/embeds"]), "strength": strength,
            "noise_augmentation": noise}
    options = {"unclip_conditioning": [item], "seed": seed + 10, "pooled_output": torch.ones(1, 16)}
    vector = sdxl_vector(options, 16 + 6 * SIZE_EMBED, refiner=False, batch=1)
    assert torch.equal(vector[:, :16], REFERENCE["unclip/plain"][:, :16])


def test_sdxl_samples_with_an_image_prompt(loom, tmp_path):
    from safetensors.torch import save_file

    from tests.fixtures.checkpoints import TEXT_WIDTH, make_tiny_checkpoint
    from tests.fixtures.text_weights import tiny_open_clip_visual_state_dict

    for kind in ("checkpoints", "clip_vision"):
        (tmp_path / kind).mkdir()
        loom.folders.add_model_folder(kind, tmp_path / kind)
    make_tiny_checkpoint("sdxl", tmp_path / "checkpoints" / "sdxl.safetensors")
    vision_dir = tmp_path / "clip_vision"
    save_file(tiny_open_clip_visual_state_dict("visual.", projection_dim=TEXT_WIDTH), str(vision_dir / "g.safetensors"))
    prompt = workflow("sd21_unclip")
    prompt["4"] = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sdxl.safetensors"}}
    prompt["13"] = {"class_type": "CLIPVisionLoader", "inputs": {"clip_name": "g.safetensors"}}
    prompt["11"]["inputs"]["clip_vision"] = ["13", 0]
    with_image = loom.image(loom.run(prompt))
    prompt["3"]["inputs"]["positive"] = ["6", 0]
    assert not np.array_equal(loom.image(loom.run(prompt)), with_image)
