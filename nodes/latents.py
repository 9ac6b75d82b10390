"""Latent nodes: make an empty latent, resize one, attach an inpainting noise mask.

LATENT is a dict {"samples": [B,C,h,w], optional "noise_mask", "batch_index"} (ComfyUI's convention).
"""

from typing import Annotated, Literal

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.image_tensors import center_crop_to_aspect

MAX_SIZE = 16384  # the largest image side a size widget accepts
LATENT_CHANNELS = 4
LATENT_SCALE = 8  # image pixels per latent pixel (the SD VAEs' downscale)
LatentUpscaleMethod = Literal["nearest-exact", "bilinear", "area", "bicubic", "bislerp"]


def _slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the channel vectors (dim 1) of a and b, lerping their lengths."""
    norm_a, norm_b = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    unit_a, unit_b = a / norm_a.clamp_min(1e-8), b / norm_b.clamp_min(1e-8)
    omega = (unit_a * unit_b).sum(1, keepdim=True).clamp(-1, 1).acos()
    sin = omega.sin()
    safe = sin > 1e-5
    weight_a = torch.where(safe, ((1 - t) * omega).sin() / sin.where(safe, 1.0), 1 - t)
    weight_b = torch.where(safe, (t * omega).sin() / sin.where(safe, 1.0), t)
    return (weight_a * unit_a + weight_b * unit_b) * ((1 - t) * norm_a + t * norm_b)


def _bislerp_axis(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    count = x.shape[dim]
    position = ((torch.arange(size, dtype=torch.float32) + 0.5) * count / size - 0.5).clamp(0, count - 1)
    low = position.floor().long()
    high = (low + 1).clamp(max=count - 1)
    shape = [1] * x.dim()
    shape[dim] = size
    t = (position - low).view(shape).to(x)
    return _slerp(x.index_select(dim, low), x.index_select(dim, high), t)


def resize_latent(samples: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled"):
    """Resize latent [B,C,h,w] to width x height latent pixels; values are not clamped."""
    if crop == "center":
        samples = center_crop_to_aspect(samples, width, height)
    if method == "bislerp":
        return _bislerp_axis(_bislerp_axis(samples, height, 2), width, 3)
    return F.interpolate(samples, size=(height, width), mode=method)


@node(category="latent", display_name="Empty Latent Image", outputs=[Out("LATENT")])
class EmptyLatentImage(Node):
    """A batch of zero latents for a width x height image (the start of text-to-image)."""

    width: Annotated[int, Widget(step=8)] = Field(512, ge=16, le=MAX_SIZE)
    height: Annotated[int, Widget(step=8)] = Field(512, ge=16, le=MAX_SIZE)
    batch_size: int = Field(1, ge=1, le=4096)

    def run(self, ctx):
        shape = (self.batch_size, LATENT_CHANNELS, self.height // LATENT_SCALE, self.width // LATENT_SCALE)
        return ({"samples": torch.zeros(shape)},)


@node(category="latent", display_name="Upscale Latent", outputs=[Out("LATENT")])
class LatentUpscale(Node):
    """Resize a latent to an image size of at least 64 pixels a side (a 0 side keeps the aspect ratio;
    both 0: unchanged)."""

    samples: Annotated[object, Socket("LATENT")]
    upscale_method: LatentUpscaleMethod
    width: Annotated[int, Widget(step=8)] = Field(512, ge=0, le=MAX_SIZE)
    height: Annotated[int, Widget(step=8)] = Field(512, ge=0, le=MAX_SIZE)
    crop: Literal["disabled", "center"]

    def run(self, ctx):
        if self.width == 0 and self.height == 0:
            return (self.samples,)
        source = self.samples["samples"]
        h, w = source.shape[-2:]
        width, height = max(64, self.width), max(64, self.height)
        if self.width == 0:
            width = max(64, round(w * height / h))
        elif self.height == 0:
            height = max(64, round(h * width / w))
        resized = resize_latent(source, width // LATENT_SCALE, height // LATENT_SCALE, self.upscale_method, self.crop)
        return (self.samples | {"samples": resized},)


@node(category="latent", display_name="Upscale Latent By", outputs=[Out("LATENT")])
class LatentUpscaleBy(Node):
    """Resize a latent by a factor."""

    samples: Annotated[object, Socket("LATENT")]
    upscale_method: LatentUpscaleMethod
    scale_by: Annotated[float, Widget(step=0.01)] = Field(1.5, ge=0.01, le=8.0)

    def run(self, ctx):
        source = self.samples["samples"]
        h, w = source.shape[-2:]
        width, height = round(w * self.scale_by), round(h * self.scale_by)
        return (self.samples | {"samples": resize_latent(source, width, height, self.upscale_method)},)


@node(category="latent/inpaint", display_name="Set Latent Noise Mask", outputs=[Out("LATENT")])
class SetLatentNoiseMask(Node):
    """Limit sampling to where the mask is 1; elsewhere the latent stays as it is."""

    samples: Annotated[object, Socket("LATENT")]
    mask: Annotated[object, Socket("MASK")]

    def run(self, ctx):
        mask = self.mask.reshape(-1, 1, self.mask.shape[-2], self.mask.shape[-1]).float()
        return (self.samples | {"noise_mask": mask},)
