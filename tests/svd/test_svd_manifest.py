"""Full-size SVD models, sized by detection from the reference manifest, have exactly its keys and shapes."""

import pytest
import torch

from engine.models.clip_vision import (
    build_vision_model,
    find_visual_tower,
    infer_vision_config,
    to_hf_vision_layout,
    vision_checkpoint_state_dict,
)
from engine.models.detect import detect_checkpoint, infer_vae_config
from engine.models.vae import AutoencoderKL
from engine.models.video_unet import VideoUNet
from engine.models.video_vae import VideoAutoencoder
from tests.reference_data import load_manifest

COND_FRAME_VAE = "conditioner.embedders.3.encoder."
IMAGE_ENCODER = "conditioner.embedders.0.open_clip.model."
TEXT_LEFTOVERS = {"token_embedding.weight", "positional_embedding", "ln_final.weight", "ln_final.bias",
                  "text_projection", "logit_scale"}


@pytest.fixture(scope="module")
def tensors() -> dict:
    return {k: tuple(v) for k, v in load_manifest("svd_img2vid")["tensors"].items()}


def _component(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _shapes(module: torch.nn.Module) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_video_unet_and_temporal_vae_match_the_file_exactly(tensors):
    config = detect_checkpoint(tensors)
    with torch.device("meta"):
        unet = VideoUNet(config.unet)
        vae = VideoAutoencoder(config.vae)
        cond_vae = AutoencoderKL(infer_vae_config(tensors, COND_FRAME_VAE))
    assert _shapes(unet) == _component(tensors, "model.diffusion_model.")
    assert sum(p.numel() for p in unet.parameters()) == 1_524_623_082
    assert _shapes(vae) == _component(tensors, "first_stage_model.")
    assert sum(p.numel() for p in vae.parameters()) == 97_742_775
    assert _shapes(cond_vae) == _component(tensors, COND_FRAME_VAE)


def test_image_encoder_covers_every_tensor_but_the_unused_text_leftovers(tensors):
    prefix, layout = find_visual_tower(list(tensors))
    tower = _component(tensors, prefix)
    meta = {k: torch.empty(v, device="meta") for k, v in tower.items()}
    config = infer_vision_config(to_hf_vision_layout(meta, layout), open_clip=True)
    rebuilt = {k: tuple(v.shape) for k, v in
               vision_checkpoint_state_dict(build_vision_model(config), open_clip=True).items()}
    assert {prefix + k: v for k, v in rebuilt.items()} == {k: v for k, v in tensors.items() if k.startswith(prefix)}
    rest = set(_component(tensors, IMAGE_ENCODER)) - {"visual." + k for k in rebuilt}
    assert rest == TEXT_LEFTOVERS


def test_every_manifest_tensor_belongs_to_a_built_component(tensors):
    prefixes = ("model.diffusion_model.", "first_stage_model.", IMAGE_ENCODER, COND_FRAME_VAE)
    assert all(k.startswith(prefixes) for k in tensors)
