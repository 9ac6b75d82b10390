"""LoraSave writes a model/CLIP difference as a LoRA in ComfyUI's naming that LoraLoader applies: a full
difference of (A - B) loaded onto B gives A's weights (float16 storage), rank-r factors move B toward A."""

import pytest
import torch
from safetensors.torch import load_file

from tests.merging.conftest import PAIRS

UNET = "model.diffusion_model."


def _extract_and_apply(loom, lora_type: str, rank: int) -> tuple[dict, dict]:
    first, second = PAIRS["sd15"]
    loom.folders.add_model_folder("loras", loom.folders.output_dir / "loras")
    loom.run({
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": first}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": second}},
        "3": {"class_type": "ModelMergeSubtract", "inputs": {"model1": ["1", 0], "model2": ["2", 0], "multiplier": 1.0}},
        "4": {"class_type": "CLIPMergeSubtract", "inputs": {"clip1": ["1", 1], "clip2": ["2", 1], "multiplier": 1.0}},
        "5": {"class_type": "LoraSave", "inputs": {"filename_prefix": "loras/diff", "rank": rank, "lora_type": lora_type,
                                                   "bias_diff": True, "model_diff": ["3", 0], "text_encoder_diff": ["4", 0]}},
    })
    lora = load_file(str(loom.folders.output_dir / "loras" / "diff_00001_.safetensors"))
    loom.run({
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": second}},
        "6": {"class_type": "LoraLoader", "inputs": {"model": ["2", 0], "clip": ["2", 1], "lora_name": "diff_00001_.safetensors",
                                                     "strength_model": 1.0, "strength_clip": 1.0}},
        "7": {"class_type": "CheckpointSave", "inputs": {"model": ["6", 0], "clip": ["6", 1], "vae": ["2", 2],
                                                          "filename_prefix": "checkpoints/restored"}},
    })
    return lora, load_file(str(loom.folders.output_dir / "checkpoints" / "restored_00001_.safetensors"))


def test_full_difference_lora_turns_model_b_back_into_model_a(loom, source):
    lora, restored = _extract_and_apply(loom, "full_diff", 8)
    assert any(k.startswith("diffusion_model.") for k in lora)
    assert any(k.startswith("text_encoders.clip_l.transformer.text_model.") for k in lora)
    a = source(PAIRS["sd15"][0])
    for key, value in restored.items():
        if key.startswith((UNET, "cond_stage_model.")) and key in a:
            torch.testing.assert_close(value, a[key], rtol=0, atol=2e-3, msg=key)


@pytest.mark.parametrize("rank", [4])
def test_low_rank_lora_moves_model_b_toward_model_a(loom, source, rank):
    lora, restored = _extract_and_apply(loom, "standard", rank)
    key = "input_blocks.1.1.proj_in.weight"
    up, down = lora[f"diffusion_model.{key[:-7]}.lora_up.weight"], lora[f"diffusion_model.{key[:-7]}.lora_down.weight"]
    assert up.shape[1] == rank and down.shape[0] == rank and up.dtype == torch.float16
    a, b = (source(name) for name in PAIRS["sd15"])
    full = UNET + key
    assert (restored[full] - a[full]).norm() < (b[full] - a[full]).norm()
