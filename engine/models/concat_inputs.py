"""Extra UNet input channels taken from the conditioning: inpainting UNets (9 channels for SD: the mask and
the masked image's latent) and InstructPix2Pix UNets (8: the source image's latent), as ComfyUI feeds them
from `concat_mask` / `concat_latent_image` (set by InpaintModelConditioning / InstructPixToPixConditioning).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from engine.image_resize import interpolate

ConcatInput = Callable[[dict, torch.Size], dict]


def _fit(tensor: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Resized (bilinear, centre crop) to the latent's size and repeated to its batch."""
    if tensor.shape[-2:] != shape[-2:]:
        tensor = interpolate(tensor, shape[-1], shape[-2], "bilinear", "center")
    return tensor.repeat((shape[0] + tensor.shape[0] - 1) // tensor.shape[0], 1, 1, 1)[: shape[0]]


def concat_input(in_channels: int, latent_channels: int, family: str,
                 latent_in: Callable[[torch.Tensor], torch.Tensor]) -> ConcatInput | None:
    """Network kwargs {"concat": [B, extra, h, w]} for a UNet with more input channels than the latent has
    (None for ordinary UNets). `latent_in` maps VAE latents to the model's space."""
    extra = in_channels - latent_channels
    if extra <= 0:
        return None
    inpainting = extra == latent_channels + 1
    if not inpainting and extra != latent_channels:
        raise ValueError(f"a UNet with {in_channels} input channels over {latent_channels}-channel latents is "
                         "neither an inpainting nor an InstructPix2Pix model")

    def concat(options: dict, latent_shape: torch.Size) -> dict:
        image, mask = options.get("concat_latent_image"), options.get("concat_mask")
        if image is None or (inpainting and mask is None):
            node = "InpaintModelConditioning" if inpainting else "InstructPixToPixConditioning"
            raise ValueError(f"this {'inpainting' if inpainting else 'InstructPix2Pix'} model takes the source "
                             f"image as extra UNet input: condition it with {node}")
        if inpainting or family.startswith("sdxl"):  # ComfyUI's SD1.x InstructPix2Pix takes the raw latent
            image = latent_in(image)
        image = _fit(image.float(), latent_shape)
        if not inpainting:
            return {"concat": image}
        mask = mask.float().reshape(-1, 1, *mask.shape[-2:])
        if mask.shape[-2:] != latent_shape[-2:]:
            mask = F.interpolate(mask, size=latent_shape[-2:], mode="bilinear")
        return {"concat": torch.cat([_fit(mask.round(), latent_shape), image], dim=1)}

    return concat
