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


def _unit_rows(rows: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each row divided by its length; a zero-length row stays the zero vector instead of NaN."""
    return torch.where(lengths == 0.0, torch.zeros_like(rows), rows / lengths)


def _slerp(start: torch.Tensor, end: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Move each [N,C] row of `start` toward the matching row of `end` by the [N,1] fraction t.

    The direction travels along the great circle between the two unit vectors (angle theta): the point at
    fraction t is (sin((1-t)theta) u0 + sin(t theta) u1) / sin(theta). Its length is lerped between the
    two lengths. Where sin(theta) vanishes the formula is 0/0, so rows pointing the same way keep `start`
    and rows pointing opposite ways are lerped component-wise (the numbers ComfyUI's bislerp gives)."""
    start_len = torch.norm(start, dim=-1, keepdim=True)
    end_len = torch.norm(end, dim=-1, keepdim=True)
    start_dir, end_dir = _unit_rows(start, start_len), _unit_rows(end, end_len)
    cos_theta = (start_dir * end_dir).sum(dim=-1, keepdim=True)
    theta = torch.acos(cos_theta)
    sin_theta = torch.sin(theta)
    start_weight = torch.sin((1.0 - t) * theta) / sin_theta
    end_weight = torch.sin(t * theta) / sin_theta
    on_arc = (start_weight * start_dir + end_weight * end_dir) * (start_len * (1.0 - t) + end_len * t)
    straight = start * (1.0 - t) + end * t
    same_way, opposite = cos_theta > 1 - 1e-5, cos_theta < 1e-5 - 1
    return torch.where(same_way, start, torch.where(opposite, straight, on_arc))


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
