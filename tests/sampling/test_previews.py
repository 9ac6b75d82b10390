"""Latent previews: a cheap linear map per family gives a small RGB image while sampling."""

import torch

from engine.sampling.previews import LATENT_RGB, latent_preview


def test_preview_is_an_rgb_image_of_the_latent_size():
    image = latent_preview(torch.zeros(2, 4, 16, 24), "sdxl")
    assert image.mode == "RGB" and image.size == (24, 16)


def test_preview_maps_each_latent_channel_through_the_family_factors():
    latent = torch.zeros(1, 4, 2, 2)
    latent[0, 3] = -1.0  # SD1's fourth channel drives blue strongly
    pixel = latent_preview(latent, "sd15").getpixel((0, 0))
    factors = torch.tensor(LATENT_RGB["sd1"][0][3])
    expected = ((-factors + 1) / 2 * 255).round().to(torch.uint8).tolist()
    assert list(pixel) == expected and pixel[2] > pixel[0]


def test_large_previews_are_shrunk():
    assert max(latent_preview(torch.zeros(1, 4, 128, 64), "svd", max_size=32).size) == 32
