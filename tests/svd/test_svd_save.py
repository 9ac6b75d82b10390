"""ImageOnlyCheckpointSave writes the SVD model, image encoder and VAE in svd.safetensors' layout: the saved
file reloads through ImageOnlyCheckpointLoader and samples the same video latents bit for bit."""

import torch
from safetensors import safe_open

from tests.svd.test_svd_workflows import shrunk


def _capture(prompt: dict) -> dict:
    prompt = {k: v for k, v in prompt.items() if v["class_type"] not in ("SaveAnimatedWEBP", "SaveVideoMP4",
                                                                         "VAEDecode")}
    prompt["20"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["5", 0]}}
    return prompt


def test_saved_svd_checkpoint_reloads_and_samples_the_same_video(loom):
    loom.put_input_image("cat.png")
    prompt = _capture(shrunk("svd_img2vid"))
    prompt["2"]["inputs"]["image"] = "cat.png"
    prompt["9"] = {"class_type": "ImageOnlyCheckpointSave", "inputs": {
        "model": ["1", 0], "clip_vision": ["1", 1], "vae": ["1", 2], "filename_prefix": "checkpoints/svd_copy"}}
    original = loom.run(prompt).outputs["20"]["latent"][0]["samples"]
    saved = loom.folders.output_dir / "checkpoints" / "svd_copy_00001_.safetensors"
    with safe_open(str(saved), "pt") as f:
        keys = set(f.keys())
        assert f.metadata()["modelspec.architecture"] == "stable-video-diffusion-img2vid-v1"
    assert "conditioner.embedders.0.open_clip.model.visual.conv1.weight" in keys and "v_pred" not in keys
    loom.folders.add_model_folder("checkpoints", saved.parent)
    del prompt["9"]
    prompt["1"]["inputs"]["ckpt_name"] = saved.name
    assert torch.equal(loom.run(prompt).outputs["20"]["latent"][0]["samples"], original)
