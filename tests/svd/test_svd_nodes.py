"""SVD nodes through the executor: the one-node expansion, CFG ramp, conditioning inputs, loader errors,
and the image encoder / VAE making room for the UNet under a memory budget."""

import shutil

import numpy as np
import torch
from PIL import Image, ImageSequence

from engine.models.blocks import timestep_embedding
from nodes.svd import svd_extra_conds
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.workflow_runner import Loom
from tests.svd.test_svd_workflows import FPS, FRAMES, HEIGHT, WIDTH, saved, shrunk


def _frames(loom, prompt, node_id="7") -> np.ndarray:
    prompt[node_id]["inputs"]["lossless"] = True
    result = loom.run(prompt)
    with Image.open(saved(loom, result, node_id)) as image:
        return np.stack([np.asarray(f.convert("RGB"), dtype=np.float32) for f in ImageSequence.Iterator(image)])


def _primitive_prompt() -> dict:
    prompt = shrunk("svd_img2vid")
    del prompt["8"]
    return prompt


def test_one_node_svd_image_to_video_equals_the_primitive_workflow(loom):
    loom.put_input_image("example.png")
    primitive = _frames(loom, _primitive_prompt())
    sampler = _primitive_prompt()["5"]["inputs"]
    one_node = {
        "2": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
        "3": {"class_type": "SVDImageToVideo", "inputs": {
            "image": ["2", 0], "ckpt_name": "svd.safetensors", "width": WIDTH, "height": HEIGHT,
            "video_frames": FRAMES, "fps": FPS, "motion_bucket_id": 127, "augmentation_level": 0.0,
            "steps": sampler["steps"], "cfg": sampler["cfg"], "min_cfg": 1.0, "seed": sampler["seed"],
            "sampler_name": "euler", "scheduler": "karras"}},
        "7": {"class_type": "SaveAnimatedWEBP", "inputs": {
            "images": ["3", 0], "filename_prefix": "one", "fps": float(FPS), "lossless": True, "quality": 80,
            "method": "default"}},
    }
    assert np.array_equal(_frames(loom, one_node), primitive)


def test_cfg_ramp_changes_the_video_and_equals_plain_cfg_when_flat(loom):
    loom.put_input_image("example.png")
    prompt = _primitive_prompt()
    ramped = _frames(loom, prompt)
    prompt["4"]["inputs"]["min_cfg"] = prompt["5"]["inputs"]["cfg"]
    flat = _frames(loom, prompt)
    prompt["5"]["inputs"]["model"] = ["1", 0]  # KSampler on the unpatched model
    plain = _frames(loom, prompt)
    assert np.abs(flat - plain).max() <= 1.0  # lossless WebP: equal up to rounding
    assert np.abs(ramped - flat).mean() > 0.5


def test_motion_bucket_fps_and_augmentation_steer_the_video(loom):
    loom.put_input_image("example.png")
    prompt = _primitive_prompt()
    base = _frames(loom, prompt)
    prompt["3"]["inputs"]["motion_bucket_id"] = 255
    moved = _frames(loom, prompt)
    prompt["3"]["inputs"]["fps"] = 24
    faster = _frames(loom, prompt)
    prompt["3"]["inputs"]["augmentation_level"] = 0.2
    noisier = _frames(loom, prompt)
    assert np.abs(base - moved).mean() > 0.5 and np.abs(moved - faster).mean() > 0.5
    assert np.abs(faster - noisier).mean() > 0.5
    assert np.array_equal(noisier, _frames(loom, prompt))  # augmentation noise is seeded


def test_extra_conds_embed_fps_minus_one_motion_and_augmentation_and_resize_the_frame_latent():
    frame_latent = torch.randn(1, 4, 3, 4)
    conds = svd_extra_conds({"fps": 6, "motion_bucket_id": 127, "augmentation_level": 0.05,
                             "concat_latent_image": frame_latent}, torch.Size([FRAMES, 4, 6, 8]))
    expected = timestep_embedding(torch.tensor([5.0, 127.0, 0.05]), 256).reshape(1, -1)
    torch.testing.assert_close(conds["y"], expected)
    assert conds["concat"].shape == (1, 4, 6, 8)
    assert int(conds["num_video_frames"][0]) == FRAMES and not conds["image_only_indicator"].any()


def test_image_only_loader_names_the_file_when_given_an_image_model(loom):
    loom.put_input_image("example.png")
    prompt = _primitive_prompt()
    prompt["1"]["inputs"]["ckpt_name"] = "sd_xl_base_1.0.safetensors"
    result = loom.executor.run(prompt)
    assert result.status == "error"
    assert result.error["node_type"] == "ImageOnlyCheckpointLoader"
    assert "sd_xl_base_1.0.safetensors" in result.error["exception_message"]
    assert "SVD" in result.error["exception_message"]


def test_checkpoint_loader_points_an_svd_file_to_the_video_loader(loom):
    prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "svd.safetensors"}},
              "2": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
              "3": {"class_type": "KSampler", "inputs": {
                  "model": ["1", 0], "positive": ["4", 0], "negative": ["4", 0], "latent_image": ["2", 0],
                  "seed": 0, "steps": 1, "cfg": 1.0, "sampler_name": "euler", "scheduler": "normal",
                  "denoise": 1.0}},
              "4": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "x"}},
              "5": {"class_type": "PreviewImage", "inputs": {"images": ["6", 0]}},
              "6": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["1", 2]}}}
    result = loom.executor.run(prompt)
    assert result.status == "error"
    assert result.error["node_type"] == "CheckpointLoaderSimple"
    assert "svd.safetensors" in result.error["exception_message"]
    assert "ImageOnlyCheckpointLoader" in result.error["exception_message"]


def test_image_encoder_and_vae_are_offloaded_while_the_unet_samples(tmp_path, svd_models_dir, loom):
    loom.put_input_image("example.png")
    loom.run(_primitive_prompt())
    sizes = {e.data["model"]: e.data["bytes"] for e in loom.events.events if e.type == "model_load"}
    unet = next(name for name in sizes if "video unet" in name)
    budget = max(sizes.values()) + 1024
    assert budget < sum(sizes.values())
    tight = Loom(tmp_path / "tight", svd_models_dir, ram_budget=budget)
    tight.put_input_image("example.png")
    tight.run(_primitive_prompt())
    events = tight.model_events()
    unet_load = events.index(("model_load", unet, "cpu"))
    offloaded = {name for kind, name, _ in events[:unet_load] if kind == "model_offload"}
    assert any("clip vision" in name for name in offloaded) and any("video vae" in name for name in offloaded)


def test_replacing_the_svd_file_reloads_it_through_the_graph_cache(tmp_path, svd_models_dir):
    models = tmp_path / "models"
    shutil.copytree(svd_models_dir, models)
    loom = Loom(tmp_path / "home", models)
    loom.put_input_image("example.png")
    prompt = _primitive_prompt()
    first = _frames(loom, prompt)
    assert "1" not in loom.run(prompt, fresh=False).executed  # cached while the file is unchanged
    make_tiny_checkpoint("svd", models / "checkpoints" / "svd.safetensors", seed=5)
    result = loom.run(prompt, fresh=False)
    assert "1" in result.executed
    with Image.open(saved(loom, result, "7")) as image:
        second = np.stack([np.asarray(f.convert("RGB"), dtype=np.float32) for f in ImageSequence.Iterator(image)])
    assert np.abs(first - second).mean() > 0.5
