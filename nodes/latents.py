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
    """Spherical interpolation of the rows of [N,C] a and b by [N,1] t, lerping their lengths; rows almost
    parallel keep a, rows almost opposite are lerped (ComfyUI's bislerp rules)."""
    channels = a.shape[-1]
    norm_a, norm_b = torch.norm(a, dim=-1, keepdim=True), torch.norm(b, dim=-1, keepdim=True)
    unit_a, unit_b = a / norm_a, b / norm_b
    unit_a[norm_a.expand(-1, channels) == 0.0] = 0.0
    unit_b[norm_b.expand(-1, channels) == 0.0] = 0.0
    dot = (unit_a * unit_b).sum(1)
    omega = torch.acos(dot)
    sin = torch.sin(omega)
    out = ((torch.sin((1.0 - t.squeeze(1)) * omega) / sin).unsqueeze(1) * unit_a
           + (torch.sin(t.squeeze(1) * omega) / sin).unsqueeze(1) * unit_b)
    out *= (norm_a * (1.0 - t) + norm_b * t).expand(-1, channels)
    out[dot > 1 - 1e-5] = a[dot > 1 - 1e-5]
    out[dot < 1e-5 - 1] = (a * (1.0 - t) + b * t)[dot < 1e-5 - 1]
    return out


def _source_positions(count: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For `size` output pixels over `count` input pixels: (fraction, left index, right index), from
    bilinearly resampled index ramps (so the positions are exactly those of a bilinear resize)."""
    ramp = torch.arange(count, dtype=torch.float32).reshape(1, 1, 1, -1)
    left = F.interpolate(ramp, size=(1, size), mode="bilinear")
    fraction = left - left.floor()
    right_ramp = ramp + 1
    right_ramp[..., -1] -= 1
    right = F.interpolate(right_ramp, size=(1, size), mode="bilinear")
    return fraction.flatten(), left.to(torch.int64).flatten(), right.to(torch.int64).flatten()


def _bislerp_axis(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """Slerp-resize [B,C,H,W] along dim 2 or 3 (channel vectors interpolated)."""
    fraction, left, right = _source_positions(x.shape[dim], size)
    first, second = x.index_select(dim, left).movedim(1, -1), x.index_select(dim, right).movedim(1, -1)
    shape = list(first.shape[:-1])
    view = [1, 1, 1]
    view[dim - 1] = size
    t = fraction.view(view).expand(shape).reshape(-1, 1)
    channels = x.shape[1]
    out = _slerp(first.reshape(-1, channels), second.reshape(-1, channels), t)
    return out.reshape(*shape, channels).movedim(-1, 1)


def bislerp(samples: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """ComfyUI's "bislerp" resize of [B,C,h,w]: slerp along the width, then along the height."""
    dtype = samples.dtype
    return _bislerp_axis(_bislerp_axis(samples.float(), width, 3), height, 2).to(dtype)


def resize_latent(samples: torch.Tensor, width: int, height: int, method: str, crop: str = "disabled"):
    """Resize latent [B,C,h,w] to width x height latent pixels; values are not clamped."""
    if crop == "center":
        samples = center_crop_to_aspect(samples, width, height)
    if method == "bislerp":
        return bislerp(samples, width, height)
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
