"""GLIGEN: the position net and fusers, alone and inside the tiny SD1.5 UNet, equal ComfyUI's comfy/gligen.py
(and UNet) on the same tiny weights (tools/comfy_reference/gligen_reference.py), and in a workflow a text box changes the sampled latent only
when one is applied, and differently for different boxes."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.models.gligen import load_gligen
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.gligen_file import tiny_gligen_state_dict
from tests.fixtures.tiny_model import tiny_model
from tests.fixtures.workflow_runner import Loom

REFERENCE = Path(__file__).parent / "data" / "gligen_reference.safetensors"
LATENT = (2, 4, 8, 8)
BOXES = ((4, 4, 0, 2), (3, 5, 4, 1))  # (h, w, y, x) in latent pixels, as in the reference script
CKPT = "v1-5-pruned-emaonly.safetensors"


def test_gligen_middle_patch_equals_comfyui_for_boxes_and_for_none():
    ref = load_file(str(REFERENCE))
    gligen = load_gligen(tiny_gligen_state_dict())
    boxes = [(ref["phrases"][i:i + 1], *box) for i, box in enumerate(BOXES)]
    position = gligen.set_position(LATENT, boxes, "cpu")
    empty = gligen.set_empty(LATENT, "cpu")
    assert len(gligen.module_list) == 7
    with torch.no_grad():
        for index in range(7):
            x = ref[f"x.{index}"]
            torch.testing.assert_close(position(x, {"transformer_index": index}), ref[f"position.{index}"],
                                       rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(empty(x, {"transformer_index": index}), ref[f"empty.{index}"],
                                       rtol=1e-5, atol=1e-5)
            assert not torch.allclose(ref[f"position.{index}"], ref[f"empty.{index}"])


def test_unet_with_gligen_middle_patch_equals_comfyui_unet(tmp_path):
    """The tiny SD1.5 UNet and inputs of tools/comfy_reference/unet_patches_reference.py, with the patch."""
    ref = load_file(str(REFERENCE))
    gligen = load_gligen(tiny_gligen_state_dict())
    boxes = [(ref["phrases"][i:i + 1], *box) for i, box in enumerate(BOXES)]
    unet = tiny_model(make_tiny_checkpoint("sd15", tmp_path / "sd15.safetensors")).patch_model().diffusion_model
    gen = torch.Generator().manual_seed(11)
    x, context = torch.randn(2, 4, 16, 16, generator=gen), torch.randn(2, 5, 32, generator=gen)
    for name, patch in (("position", gligen.set_position(LATENT, boxes, "cpu")), ("empty", gligen.set_empty(LATENT, "cpu"))):
        options = {"patches": {"middle_patch": [patch]}, "cond_or_uncond": [0, 1], "sigmas": torch.tensor([14.0, 14.0])}
        with torch.no_grad():
            out = unet(x, torch.tensor([500.0, 500.0]), context, transformer_options=options)
        torch.testing.assert_close(out, ref[f"unet.{name}"], rtol=2e-5, atol=2e-5)
    assert (ref["unet.position"] - ref["unet.empty"]).abs().max() > 1e-3


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    (root / "gligen").mkdir()
    make_tiny_checkpoint("sd15", root / "checkpoints" / CKPT)
    save_file(tiny_gligen_state_dict(), str(root / "gligen" / "gligen_sd14_textbox_pruned.safetensors"))
    save_file({"not.gligen": torch.zeros(2)}, str(root / "gligen" / "other.safetensors"))
    return root


def _prompt(boxes: list[tuple[int, int, int, int]], gligen_file: str = "gligen_sd14_textbox_pruned.safetensors"):
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a garden", "clip": ["1", 1]}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["1", 1]}},
        "4": {"class_type": "GLIGENLoader", "inputs": {"gligen_name": gligen_file}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "9": {"class_type": "CaptureLatent", "inputs": {"samples": ["6", 0]}},
    }
    positive = ["2", 0]
    for n, (width, height, x, y) in enumerate(boxes):
        prompt[f"b{n}"] = {"class_type": "GLIGENTextBoxApply", "inputs": {
            "conditioning_to": positive, "clip": ["1", 1], "gligen_textbox_model": ["4", 0],
            "text": f"a red ball {n}", "width": width, "height": height, "x": x, "y": y}}
        positive = [f"b{n}", 0]
    prompt["6"] = {"class_type": "KSampler", "inputs": {
        "model": ["1", 0], "positive": positive, "negative": ["3", 0], "latent_image": ["5", 0], "seed": 3,
        "steps": 2, "cfg": 5.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0}}
    return prompt


def _sample(loom: Loom, boxes) -> torch.Tensor:
    result = loom.run(_prompt(boxes))
    return result.outputs["9"]["latent"][0]["samples"]


def test_text_box_changes_the_sample_only_when_applied(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    plain, again = _sample(loom, []), _sample(loom, [])
    left, right = _sample(loom, [(32, 32, 0, 0)]), _sample(loom, [(32, 32, 32, 32)])
    both = _sample(loom, [(32, 32, 0, 0), (32, 32, 32, 32)])
    torch.testing.assert_close(plain, again, rtol=0, atol=0)
    for boxed in (left, right, both):
        assert (boxed - plain).abs().max() > 1e-3
    assert (left - right).abs().max() > 1e-3
    assert (both - left).abs().max() > 1e-3


def test_boxes_accumulate_in_the_conditioning(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    prompt = _prompt([(64, 32, 8, 16), (16, 16, 0, 0)])
    prompt["9"] = {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["b1", 0]}}
    del prompt["6"]
    (entry,) = loom.run(prompt).outputs["9"]["conditioning"][0]
    kind, _, boxes = entry[1]["gligen"]
    assert kind == "position"
    assert [box[1:] for box in boxes] == [(4, 8, 2, 1), (2, 2, 0, 0)]
    assert boxes[0][0].shape == (1, 32)


def test_loader_names_the_file_that_is_not_gligen(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    result = loom.executor.run(_prompt([(32, 32, 0, 0)], gligen_file="other.safetensors"), sink=loom.events)
    assert result.status != "success"
    assert "other.safetensors" in str(result.error) and "GLIGEN" in str(result.error)
