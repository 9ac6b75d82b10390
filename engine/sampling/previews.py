"""Cheap latent -> RGB previews shown while sampling: one linear map per latent family, no VAE.

The factors are the widely used least-squares fits of the 4 latent channels to RGB for the SD1/SD2
VAE (also SVD's) and for the SDXL VAE.
"""

from __future__ import annotations

import torch
from PIL import Image

LATENT_RGB = {
    "sd1": (
        [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350], [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]],
        [0.0, 0.0, 0.0],
    ),
    "sdxl": (
        [[0.3651, 0.4232, 0.4341], [-0.2533, -0.0042, 0.1068], [0.1076, 0.1111, -0.0362], [-0.3165, -0.2492, -0.2188]],
        [0.1084, -0.0175, -0.0011],
    ),
}
FAMILY_FACTORS = {"sd1": "sd1", "sd15": "sd1", "sd2": "sd1", "sd21v": "sd1", "svd": "sd1",
                  "sdxl": "sdxl", "sdxl_refiner": "sdxl"}


def latent_preview(latent: torch.Tensor, family: str = "sd1", max_size: int = 512) -> Image.Image:
    """An RGB preview of the first latent of a batch [B, 4, h, w] (or one latent [4, h, w])."""
    factors, bias = LATENT_RGB[FAMILY_FACTORS.get(family, "sd1")]
    z = latent[0] if latent.ndim == 4 else latent
    rgb = z.detach().float().cpu().permute(1, 2, 0) @ torch.tensor(factors) + torch.tensor(bias)
    pixels = ((rgb + 1.0) / 2.0).clamp(0, 1).mul(255).round().to(torch.uint8).numpy()
    image = Image.fromarray(pixels)
    if max(image.size) > max_size:
        image.thumbnail((max_size, max_size))
    return image
