"""PhotoMaker: the ID encoder equals ComfyUI's module on the same tiny weights
(tools/comfy_reference/photomaker_reference.py), and PhotoMakerEncode changes exactly the class word's
embedding of a plain text encode (the word before "photomaker"), or nothing without the trigger word."""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.memory import file_key
from engine.models.photomaker import load_photomaker
from nodes.photomaker import split_trigger
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.photomaker_file import FULL_WIDTH, tiny_photomaker_state_dict
from tests.fixtures.workflow_runner import Loom

REFERENCE = Path(__file__).parent / "data" / "photomaker_reference.safetensors"
CKPT = "sd_xl_base_1.0.safetensors"


def test_id_encoder_fuses_like_comfyui():
    ref = load_file(str(REFERENCE))
    encoder = load_photomaker(tiny_photomaker_state_dict(FULL_WIDTH))
    fused = encoder.fuse(ref["prompt"], encoder.identity(ref["image"]), int(ref["class_token"]))
    torch.testing.assert_close(fused, ref["fused"], rtol=1e-5, atol=2e-5)


def test_trigger_word_is_dropped_and_the_word_before_it_is_the_class_token():
    assert split_trigger("photo of a man photomaker wearing a hat") == ("photo of a man wearing a hat", 4)
    assert split_trigger("a portrait") == ("a portrait", None)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    (root / "checkpoints").mkdir()
    (root / "photomaker").mkdir()
    make_tiny_checkpoint("sdxl", root / "checkpoints" / CKPT)
    torch.save({"id_encoder": tiny_photomaker_state_dict(), "lora_weights": {}},
               root / "photomaker" / "photomaker-v1.bin")
    return root


def _encode(loom: Loom, node: dict) -> torch.Tensor:
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
        "2": {"class_type": "PhotoMakerLoader", "inputs": {"photomaker_model_name": "photomaker-v1.bin"}},
        "3": {"class_type": "LoadImage", "inputs": {"image": "face.png"}},
        "4": node,
        "9": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["4", 0]}},
    }
    (entry,) = loom.run(prompt).outputs["9"]["conditioning"][0]
    return entry[0]


def _photomaker(text: str) -> dict:
    return {"class_type": "PhotoMakerEncode",
            "inputs": {"photomaker": ["2", 0], "image": ["3", 0], "clip": ["1", 1], "text": text}}


def _plain(text: str) -> dict:
    return {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["1", 1]}}


def test_photomaker_encode_changes_only_the_class_word(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    loom.put_input_image("face.png")
    fused = _encode(loom, _photomaker("a man photomaker smiling"))
    plain = _encode(loom, _plain("a man smiling"))
    changed = (fused - plain).abs().amax(dim=-1)[0]
    assert changed[2] > 1e-3
    assert torch.count_nonzero(changed) == 1
    torch.testing.assert_close(_encode(loom, _photomaker("a man smiling")), plain, rtol=0, atol=0)


def _fused_with(loom: Loom, file: str) -> torch.Tensor:
    node = _photomaker("a man photomaker smiling")
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
              "2": {"class_type": "PhotoMakerLoader", "inputs": {"photomaker_model_name": file}},
              "3": {"class_type": "LoadImage", "inputs": {"image": "face.png"}}, "4": node,
              "9": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["4", 0]}}}
    (entry,) = loom.run(prompt).outputs["9"]["conditioning"][0]
    return entry[0]


def test_the_encoder_is_read_when_a_trigger_word_needs_it_and_then_kept(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    loom.put_input_image("face.png")
    name = "photomaker-v1.bin (photomaker)"
    _encode(loom, _photomaker("a man smiling"))  # no trigger word: the loader's file is not read
    assert [row["location"] for row in loom.manager.summary() if row["model"] == name] == ["disk"]
    first, second = _fused_with(loom, "photomaker-v1.bin"), _fused_with(loom, "photomaker-v1.bin")
    assert [(kind, to) for kind, model, to in loom.model_events() if model == name] == [("model_load", "cpu")]
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_fp16_file_is_held_in_fp16_and_fuses_like_its_fp32_values(tmp_path, models_dir):
    rounded = {k: v.half() for k, v in tiny_photomaker_state_dict().items()}
    save_file(rounded, str(models_dir / "photomaker" / "half.safetensors"))
    save_file({k: v.float() for k, v in rounded.items()}, str(models_dir / "photomaker" / "full.safetensors"))
    loom = Loom(tmp_path, models_dir)
    loom.put_input_image("face.png")
    half, full = _fused_with(loom, "half.safetensors"), _fused_with(loom, "full.safetensors")
    assert loom.manager.manual_cast
    torch.testing.assert_close(half, full, rtol=1e-4, atol=5e-5)  # fp32 products, summed in other orders
    held = [{p.dtype for p in _placed_encoder(loom, file).parameters()}
            for file in ("half.safetensors", "full.safetensors")]
    assert held == [{torch.float16}, {torch.float32}]


def _placed_encoder(loom: Loom, file: str):
    """The module the manager holds for a file PhotoMakerLoader has loaded (its handle, asked for again)."""
    path = loom.folders.find("photomaker", file)
    handle = loom.manager.handle(file_key(path, "photomaker"), name=file, build=lambda: None, state_dict=dict)
    return loom.manager.load(handle)


def test_loader_names_the_file_that_is_not_photomaker(tmp_path, models_dir):
    save_file({"not.photomaker": torch.zeros(2)}, str(models_dir / "photomaker" / "other.safetensors"))
    loom = Loom(tmp_path, models_dir)
    loom.put_input_image("face.png")
    prompt = {"2": {"class_type": "PhotoMakerLoader", "inputs": {"photomaker_model_name": "other.safetensors"}},
              "9": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["4", 0]}},
              "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": CKPT}},
              "3": {"class_type": "LoadImage", "inputs": {"image": "face.png"}},
              "4": _photomaker("a man smiling")}
    result = loom.executor.run(prompt, sink=loom.events)
    assert result.status == "error"
    assert "other.safetensors" in str(result.error) and "PhotoMaker" in str(result.error)


def test_a_prompt_too_narrow_for_the_encoder_is_refused_before_the_encoder_is_read(tmp_path, models_dir):
    make_tiny_checkpoint("sd15", models_dir / "checkpoints" / "sd15.safetensors")
    loom = Loom(tmp_path, models_dir)
    loom.put_input_image("face.png")
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
              "2": {"class_type": "PhotoMakerLoader", "inputs": {"photomaker_model_name": "photomaker-v1.bin"}},
              "3": {"class_type": "LoadImage", "inputs": {"image": "face.png"}},
              "4": _photomaker("a man photomaker smiling"),
              "9": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["4", 0]}}}
    result = loom.executor.run(prompt, sink=loom.events)
    assert result.status == "error"
    assert "fuses 64-wide ones (PhotoMaker is for SDXL)" in str(result.error)
    assert [row["location"] for row in loom.manager.summary()
            if row["model"] == "photomaker-v1.bin (photomaker)"] == ["disk"]
