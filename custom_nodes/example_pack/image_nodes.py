"""The example pack's nodes. Each is a plain class: INPUT_TYPES says what goes in, RETURN_TYPES what
comes out, FUNCTION which method computes it. Only torch is imported, so the pack also runs in ComfyUI.

IMAGE values are float32 tensors [batch, height, width, channels] in 0..1.
"""

import torch
import torch.nn.functional as F

LUMA_WEIGHTS = {
    "rec709": (0.2126, 0.7152, 0.0722),
    "rec601": (0.299, 0.587, 0.114),
    "average": (1 / 3, 1 / 3, 1 / 3),
}


class ImageGrayscale:
    """Turn images gray (still 3 channels, so every image node accepts the result)."""

    CATEGORY = "example_pack"
    DESCRIPTION = "Convert images to grayscale using a luma formula."
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "grayscale"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE",),
                # A list of strings is a dropdown (COMBO); the first entry is the default.
                "weights": (list(LUMA_WEIGHTS), {"tooltip": "How much red, green and blue count."}),
            }
        }

    def grayscale(self, image, weights):
        w = torch.tensor(LUMA_WEIGHTS[weights], dtype=image.dtype, device=image.device)
        luma = (image[..., :3] * w).sum(dim=-1, keepdim=True)
        return (luma.expand(*image.shape[:-1], 3).clone(),)


BLEND_MODES = ("normal", "multiply", "screen", "overlay", "soft_light", "difference")


def _soft_light(base, top):
    """The W3C compositing spec's soft-light formula."""
    d = torch.where(base <= 0.25, ((16 * base - 12) * base + 4) * base, torch.sqrt(base))
    return torch.where(top <= 0.5, base - (1 - 2 * top) * base * (1 - base), base + (2 * top - 1) * (d - base))


def _blend(base, top, mode):
    if mode == "normal":
        return top
    if mode == "multiply":
        return base * top
    if mode == "screen":
        return 1 - (1 - base) * (1 - top)
    if mode == "overlay":
        return torch.where(base <= 0.5, 2 * base * top, 1 - 2 * (1 - base) * (1 - top))
    if mode == "soft_light":
        return _soft_light(base, top)
    if mode == "difference":
        return (base - top).abs()
    raise ValueError(f"unknown blend_mode {mode!r}")


class ImageBlend:
    """Blend image2 over image1 with a blend mode and an opacity (the inputs and modes of ComfyUI's
    ImageBlend, which Loom has built in; registered as ExamplePackBlend, since names are unique)."""

    CATEGORY = "example_pack"
    DESCRIPTION = "Blend two images; image2 is resized to image1's size when they differ."
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("image",)
    FUNCTION = "blend"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image1": ("IMAGE",),
                "image2": ("IMAGE",),
                # Numbers get a default and a range; Loom refuses values outside it before running.
                "blend_factor": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.01}),
                "blend_mode": (list(BLEND_MODES),),
            }
        }

    def blend(self, image1, image2, blend_factor, blend_mode):
        if image2.shape[1:3] != image1.shape[1:3]:
            resized = F.interpolate(image2.movedim(-1, 1), size=image1.shape[1:3], mode="bilinear",
                                    align_corners=False)
            image2 = resized.movedim(1, -1)
        if image2.shape[0] != image1.shape[0]:
            image2 = image2[:1].expand(image1.shape[0], -1, -1, -1)
        base, top = image1[..., :3], image2[..., :3].to(image1.dtype)
        mixed = base * (1 - blend_factor) + _blend(base, top, blend_mode) * blend_factor
        return (mixed.clamp(0, 1),)
