"""Pixel nodes: what a user sees in the produced images (sizes, colours, crops)."""

import pytest
import torch

from nodes.image_ops import EmptyImage, ImageBatch, ImageInvert, ImagePadForOutpaint, ImageScale, ImageScaleBy


def stripes(width=8, height=4):
    """An image whose red channel encodes the column index (0..1 left to right)."""
    image = torch.zeros(1, height, width, 3)
    image[..., 0] = torch.linspace(0, 1, width)
    return image


def test_empty_image_colour_and_batch(run_node):
    (image,) = run_node(EmptyImage, width=5, height=3, batch_size=2, color=0xFF8000)
    assert image.shape == (2, 3, 5, 3) and image.dtype == torch.float32
    assert torch.allclose(image[1, 2, 4], torch.tensor([1.0, 128 / 255, 0.0]))


def test_invert(run_node):
    (image,) = run_node(ImageInvert, image=torch.full((1, 2, 2, 3), 0.25))
    assert torch.allclose(image, torch.full((1, 2, 2, 3), 0.75))


def test_scale_with_zero_width_keeps_aspect(run_node):
    (image,) = run_node(ImageScale, image=stripes(8, 4), upscale_method="bilinear", width=0, height=2,
                        crop="disabled")
    assert image.shape == (1, 2, 4, 3)


def test_scale_both_zero_returns_same_size(run_node):
    source = stripes(8, 4)
    (image,) = run_node(ImageScale, image=source, upscale_method="area", width=0, height=0, crop="disabled")
    assert torch.equal(image, source)


def test_center_crop_cuts_the_sides_instead_of_squashing(run_node):
    (cropped,) = run_node(ImageScale, image=stripes(8, 4), upscale_method="nearest-exact", width=4, height=4,
                          crop="center")
    (squashed,) = run_node(ImageScale, image=stripes(8, 4), upscale_method="nearest-exact", width=4, height=4,
                           crop="disabled")
    assert cropped[0, 0, 0, 0] > 0.2 and cropped[0, 0, -1, 0] < 0.8  # the outer columns were cut
    assert squashed[0, 0, 0, 0] < 0.2 and squashed[0, 0, -1, 0] == 1.0


@pytest.mark.parametrize("method", ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"])
def test_scale_by_every_method(run_node, method):
    (image,) = run_node(ImageScaleBy, image=stripes(8, 4), upscale_method=method, scale_by=1.5)
    assert image.shape == (1, 6, 12, 3)
    overshoot = 0.05 if method == "bicubic" else 0.0  # ComfyUI leaves bicubic's ringing unclamped
    assert -overshoot <= image.min() and image.max() <= 1.0 + overshoot


def test_batch_resizes_second_image_to_first(run_node):
    (image,) = run_node(ImageBatch, image1=stripes(8, 4), image2=torch.ones(2, 6, 6, 3))
    assert image.shape == (3, 4, 8, 3)
    assert torch.allclose(image[1:], torch.ones(2, 4, 8, 3))


def test_pad_for_outpaint_adds_gray_border_and_feathered_mask(run_node):
    image, mask = run_node(ImagePadForOutpaint, image=torch.ones(1, 5, 5, 3), left=2, top=0, right=0, bottom=0,
                           feathering=2)
    assert image.shape == (1, 5, 7, 3) and mask.shape == (1, 5, 7)
    assert torch.all(image[:, :, :2] == 0.5) and torch.all(image[:, :, 2:] == 1.0)
    assert mask[0, 0].tolist() == [1.0, 1.0, 1.0, 0.25, 0.0, 0.0, 0.0]  # ComfyUI: distance 0 at the edge


def test_pad_feathers_only_when_twice_the_feathering_fits_in_the_image(run_node):
    _, mask = run_node(ImagePadForOutpaint, image=torch.ones(1, 4, 4, 3), left=2, top=0, right=0, bottom=0,
                       feathering=2)
    assert mask[0, 0].tolist() == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_pad_without_feathering_masks_only_the_border(run_node):
    _, mask = run_node(ImagePadForOutpaint, image=torch.ones(2, 3, 3, 3), left=0, top=1, right=0, bottom=0,
                       feathering=0)
    assert mask.shape == (1, 4, 3)  # one mask for the whole batch, as ComfyUI returns it
    assert mask[0].sum() == 3 and torch.all(mask[:, 0] == 1)
