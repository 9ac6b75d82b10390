"""CLIPVisionLoader / CLIPVisionEncode on a clip_vision file: centre crop versus the whole image."""

import torch
from safetensors.torch import save_file

from engine.graph.context import Services
from engine.graph.registry import build_default_registry
from engine.memory import ModelManager
from engine.paths import Folders
from nodes.clip_vision_nodes import clip_vision_model, encode_images
from tests.fixtures.text_weights import tiny_open_clip_visual_state_dict


def _encoder(tmp_path):
    path = tmp_path / "clip_vision_tiny.safetensors"
    save_file(tiny_open_clip_visual_state_dict("visual.", image_size=56, projection_dim=16), str(path))
    manager = ModelManager(device="cpu")
    return manager, clip_vision_model(manager, path)


def test_center_crop_encodes_the_middle_square_and_none_the_whole_image(tmp_path):
    manager, vision = _encoder(tmp_path)
    wide = torch.rand(1, 56, 112, 3, generator=torch.Generator().manual_seed(0))
    center = encode_images(manager, vision, wide, crop=True).image_embeds
    middle = encode_images(manager, vision, wide[:, :, 28:84], crop=True).image_embeds
    whole = encode_images(manager, vision, wide, crop=False).image_embeds
    assert center.shape == (1, 16)
    torch.testing.assert_close(center, middle, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(center, whole, atol=1e-3)


def test_clip_vision_nodes_are_registered_with_comfyui_inputs(tmp_path):
    registry, _ = build_default_registry(Services(folders=Folders(tmp_path), models=None))
    info = registry.object_info()
    assert info["CLIPVisionEncode"]["input"]["required"]["crop"][0] == ["center", "none"]
    assert info["CLIPVisionLoader"]["output"] == ["CLIP_VISION"]
    assert info["ImageOnlyCheckpointLoader"]["output"] == ["MODEL", "CLIP_VISION", "VAE"]
    assert list(info["SVD_img2vid_Conditioning"]["input"]["required"]) == [
        "clip_vision", "init_image", "vae", "width", "height", "video_frames", "motion_bucket_id", "fps",
        "augmentation_level"]
