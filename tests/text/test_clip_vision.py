"""The CLIP image encoder: OpenCLIP visual towers (SVD) encode like OpenCLIP, images are prepared
like ComfyUI's CLIPVisionEncode, and every file layout loads to the same model."""

import pytest
import torch
import torch.nn.functional as F

from engine.models.clip_keys import KeyMapError
from engine.models.clip_vision import (
    CLIP_MEAN,
    CLIP_STD,
    clip_preprocess,
    load_clip_vision,
    vision_checkpoint_state_dict,
)
from tests.fixtures.open_clip_reference import open_clip_resblocks
from tests.fixtures.text_weights import tiny_open_clip_visual_state_dict, tiny_svd_image_encoder_state_dict

SVD_PREFIX = "conditioner.embedders.0.open_clip.model."


def open_clip_visual_forward(sd: dict, pixels: torch.Tensor, heads: int):
    """OpenCLIP's VisionTransformer written out: (projected pooled, last tokens, penultimate tokens)."""
    width, _, patch, _ = sd["conv1.weight"].shape
    x = F.conv2d(pixels, sd["conv1.weight"], stride=patch).flatten(2).transpose(1, 2)
    x = torch.cat([sd["class_embedding"].expand(len(x), 1, width), x], dim=1) + sd["positional_embedding"]
    x = F.layer_norm(x, (width,), sd["ln_pre.weight"], sd["ln_pre.bias"])
    blocks = open_clip_resblocks(sd, x, heads)
    x = blocks[-1]
    pooled = F.layer_norm(x[:, 0], (width,), sd["ln_post.weight"], sd["ln_post.bias"]) @ sd["proj"]
    return pooled, x, blocks[-2]


@pytest.fixture(scope="module")
def svd_weights():
    return tiny_svd_image_encoder_state_dict(width=128, layers=3, seed=7, image_size=56, projection_dim=24)


def test_svd_image_encoder_equals_open_clip_forward(svd_weights):
    encoder = load_clip_vision(svd_weights)
    images = torch.rand(2, 70, 90, 3, generator=torch.Generator().manual_seed(0))
    out = encoder.encode_image(images)
    visual = {k.removeprefix(SVD_PREFIX + "visual."): v for k, v in svd_weights.items() if ".visual." in k}
    pooled, last, penultimate = open_clip_visual_forward(visual, clip_preprocess(images, 56), heads=2)
    assert out.image_embeds.shape == (2, 24) and out["last_hidden_state"].shape == (2, 17, 128)
    torch.testing.assert_close(out.image_embeds, pooled, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.last_hidden_state, last, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.penultimate_hidden_states, penultimate, atol=1e-5, rtol=1e-5)


def test_every_file_layout_gives_the_same_encoder(svd_weights):
    images = torch.rand(1, 56, 56, 3, generator=torch.Generator().manual_seed(1))
    reference = load_clip_vision(svd_weights)
    visual_only = {k.removeprefix(SVD_PREFIX): v for k, v in svd_weights.items() if ".visual." in k}
    torch.testing.assert_close(
        load_clip_vision(visual_only).encode_image(images).image_embeds,
        reference.encode_image(images).image_embeds,
    )
    hf_layout = vision_checkpoint_state_dict(reference.model, open_clip=False)
    assert any(k.startswith("vision_model.") for k in hf_layout)
    reloaded = load_clip_vision(hf_layout).model.state_dict()
    assert reloaded.keys() == reference.model.state_dict().keys()
    assert all(torch.equal(reloaded[k], v) for k, v in reference.model.state_dict().items())


def test_preprocess_normalises_with_clip_statistics():
    gray = torch.full((1, 30, 50, 3), 0.4)
    pixels = clip_preprocess(gray, 28)
    assert pixels.shape == (1, 3, 28, 28)
    expected = (102 / 255 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(pixels[0, :, 14, 14], expected)


def test_preprocess_centre_crops_unless_told_not_to():
    image = torch.zeros(1, 20, 60, 3)
    image[:, :, 20:40] = 1.0  # a white middle third between black sides
    white = (1.0 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    cropped = clip_preprocess(image, 28)
    torch.testing.assert_close(cropped[0, :, 14, 14], white)
    torch.testing.assert_close(cropped[0, :, 14, 5], white, atol=0.05, rtol=0)
    squashed = clip_preprocess(image, 28, crop=False)
    black = -torch.tensor(CLIP_MEAN) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(squashed[0, :, 14, 0], black, atol=0.05, rtol=0)


def test_plain_visual_file_loads():
    encoder = load_clip_vision(tiny_open_clip_visual_state_dict("visual.", width=32, layers=1))
    assert encoder.image_size == 56
    assert encoder.encode_image(torch.rand(1, 40, 40, 3)).image_embeds.shape == (1, 16)


def test_weights_without_an_image_encoder_are_rejected():
    with pytest.raises(KeyMapError, match="no CLIP vision tower"):
        load_clip_vision({"model.diffusion_model.out.2.weight": torch.zeros(4, 320, 3, 3)})
