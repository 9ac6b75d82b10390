"""ComfyUI's `latent_preview`: prepare_callback gives samplers a callback that reports progress with a
latent preview for the running node (Loom's engine.sampling.previews, sent as a `progress` event and a
binary preview over the websocket), plus the previewer classes and LatentPreviewMethod."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from comfy_compat.comfy.cli_args import LatentPreviewMethod, args
from comfy_compat.comfy.utils import ProgressBar
from comfy_compat.family_classes import model_family
from engine.sampling.previews import latent_preview

MAX_PREVIEW_RESOLUTION = args.preview_size


class LatentPreviewer:
    """Turns a step's x0 estimate into a preview image."""

    def decode_latent_to_preview(self, x0: torch.Tensor) -> Any:
        raise NotImplementedError

    def decode_latent_to_preview_image(self, preview_format: str, x0: torch.Tensor) -> tuple:
        return preview_format, self.decode_latent_to_preview(x0), MAX_PREVIEW_RESOLUTION


class Latent2RGBPreviewer(LatentPreviewer):
    """Loom's linear latent -> RGB preview of a family (no VAE)."""

    def __init__(self, latent_rgb_factors: Any = None, latent_rgb_factors_bias: Any = None,
                 family: str = "sd1"):
        self.family = family

    def decode_latent_to_preview(self, x0: torch.Tensor) -> Any:
        return latent_preview(x0, self.family, MAX_PREVIEW_RESOLUTION)


class TAESD(torch.nn.Module):
    """ComfyUI's tiny autoencoder class (comfy.taesd.taesd.TAESD); Loom has no TAESD networks."""

    def __init__(self, encoder_path: Any = None, decoder_path: Any = None, latent_channels: int = 4):
        raise NotImplementedError("TAESD is not available in Loom: it previews latents linearly")


class TAESDPreviewerImpl(LatentPreviewer):
    """A TAESD previewer; Loom previews latents linearly (Latent2RGBPreviewer)."""

    def __init__(self, taesd: Any):
        self.taesd = taesd

    def decode_latent_to_preview(self, x0: torch.Tensor) -> Any:
        raise NotImplementedError("TAESD previews are not available in Loom: it previews latents linearly")


def get_previewer(device: Any, latent_format: Any) -> LatentPreviewer | None:
    """The previewer for a model's latents (a family name or a MODEL value), None when previews are off."""
    if args.preview_method == LatentPreviewMethod.NoPreviews:
        return None
    family = latent_format if isinstance(latent_format, str) else model_family(latent_format) or "sd1"
    return Latent2RGBPreviewer(family=family)


def prepare_callback(model: Any, steps: int, x0_output_dict: dict | None = None) -> Callable:
    """A sampler callback `(step, x0, x, total_steps)`: progress step + 1 of total with a preview of x0
    for the running node; the last x0 is kept in x0_output_dict["x0"] when given."""
    previewer = get_previewer(None, model_family(model) or "sd1")
    bar = ProgressBar(steps)

    def callback(step: int, x0: torch.Tensor, x: torch.Tensor, total_steps: int) -> None:
        if x0_output_dict is not None:
            x0_output_dict["x0"] = x0
        preview = None
        if previewer is not None:
            preview = ("JPEG", previewer.decode_latent_to_preview(x0), MAX_PREVIEW_RESOLUTION)
        bar.update_absolute(step + 1, total_steps, preview)

    return callback
