"""LoraSave writes a model/CLIP difference as a LoRA in ComfyUI's naming that LoraLoader applies: a full
difference of (A - B) loaded onto B gives A's weights (float16 storage), rank-r factors move B toward A;
LoraModelLoader applies the same tensors held in memory exactly like the file loader."""

import pytest
import torch
from safetensors.torch import load_file

from engine.graph.native import Node, Out, node
from tests.merging.conftest import PAIRS, captured, sample_prompt

UNET = "model.diffusion_model."


def _extract_and_apply(loom, lora_type: str, rank: int) -> tuple[dict, dict]:
    first, second = PAIRS["sd15"]
    loom.folders.add_model_folder("loras", loom.folders.output_dir / "loras")
    loom.run({
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": first}},
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": second}},
        "3": {"class_type": "ModelMergeSubtract",
              "inputs": {"model1": ["1", 0], "model2": ["2", 0], "multiplier": 1.0}},
        "4": {"class_type": "CLIPMergeSubtract", "inputs": {"clip1": ["1", 1], "clip2": ["2", 1], "multiplier": 1.0}},
        "5": {"class_type": "LoraSave", "inputs": {
            "filename_prefix": "loras/diff", "rank": rank, "lora_type": lora_type, "bias_diff": True,
            "model_diff": ["3", 0], "text_encoder_diff": ["4", 0]}},
    })
    lora = load_file(str(loom.folders.output_dir / "loras" / "diff_00001_.safetensors"))
    loom.run({
        "2": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": second}},
        "6": {"class_type": "LoraLoader", "inputs": {
            "model": ["2", 0], "clip": ["2", 1], "lora_name": "diff_00001_.safetensors", "strength_model": 1.0,
            "strength_clip": 1.0}},
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


@node(category="testing", outputs=[Out("LORA_MODEL")])
class LoraTensors(Node):
    """Test-only: a LoRA file's tensors as a LORA_MODEL value (what training nodes hand on)."""

    path: str

    def run(self, ctx):
        return (load_file(self.path),)


def test_lora_model_loader_applies_an_in_memory_lora_like_the_file_loader(loom):
    _extract_and_apply(loom, "standard", 4)
    loom.registry.register(LoraTensors)
    path = str(loom.folders.output_dir / "loras" / "diff_00001_.safetensors")
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": PAIRS["sd15"][1]}},
        "2": {"class_type": "LoraTensors", "inputs": {"path": path}},
        "3": {"class_type": "LoraModelLoader", "inputs": {"model": ["1", 0], "lora": ["2", 0], "strength_model": 0.8}},
        "4": {"class_type": "LoraLoaderModelOnly", "inputs": {"model": ["1", 0], "lora_name": "diff_00001_.safetensors",
                                                              "strength_model": 0.8}},
    } | sample_prompt(["3", 0], ["1", 1])
    prompt["30"] = {"class_type": "KSampler", "inputs": dict(prompt["23"]["inputs"], model=["4", 0])}
    prompt["31"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["30", 0]}}
    result = loom.run(prompt)
    assert torch.equal(captured(result)[0], result.outputs["31"]["latent"][0]["samples"])
