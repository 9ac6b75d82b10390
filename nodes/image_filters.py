"""Image filters for making control images inside a workflow: Canny edges, in torch (no OpenCV/kornia).

Canny computes what ComfyUI's node gets from kornia: BT.601 grey, 5x5 Gaussian blur (sigma 1, reflected
borders), unnormalised Sobel gradients (replicated borders; thresholds are in those units), non-maximum
suppression against the two neighbours along the gradient direction rounded to 45 degrees (ties kept only
towards right and down), double threshold, then hysteresis (weak edges kept where 8-connected to strong).
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node

GREY = (0.299, 0.587, 0.114)
EPS = 1e-6
# Neighbour offsets (dy, dx) for gradient directions 0, 45, ..., 315 degrees (y pointing down).
_NEIGHBOURS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))
_SOBEL_X = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


def _gaussian_1d(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    weights = torch.exp(-(x**2) / (2 * sigma**2))
    return weights / weights.sum()


def _blur(grey: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of [B,1,H,W], rows then columns, reflected borders."""
    kernel = _gaussian_1d().to(grey)
    radius = kernel.shape[0] // 2
    rows = F.conv2d(F.pad(grey, (radius, radius, 0, 0), mode="reflect"), kernel.view(1, 1, 1, -1))
    return F.conv2d(F.pad(rows, (0, 0, radius, radius), mode="reflect"), kernel.view(1, 1, -1, 1))


def _gradients(grey: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    sobel = _SOBEL_X.to(grey)
    return F.conv2d(padded, sobel[None, None]), F.conv2d(padded, sobel.t()[None, None])


def _suppress(gx: torch.Tensor, gy: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude where it is a maximum along the gradient direction, 0 elsewhere."""
    padded = torch.sqrt(F.pad(gx, (1, 1, 1, 1)) ** 2 + F.pad(gy, (1, 1, 1, 1)) ** 2 + EPS)
    height, width = gx.shape[-2:]
    neighbours = torch.stack([padded[..., 1 + dy:1 + dy + height, 1 + dx:1 + dx + width] for dy, dx in _NEIGHBOURS])
    magnitude = padded[..., 1:1 + height, 1:1 + width]
    octant = torch.round(torch.nan_to_num(torch.atan2(gy, gx)) * (4 / math.pi))
    is_max = magnitude > padded[..., :1, :1]
    for direction in (octant % 8, (octant + 4) % 8):
        direction = direction.long()
        neighbour = torch.gather(neighbours, 0, direction[None])[0]
        ties_win = (direction == 0) | (direction == 2)
        is_max &= (magnitude > neighbour) | (ties_win & (magnitude == neighbour))
    return magnitude * is_max


def canny(image: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Edges of [B,C,H,W] images (C = 1 or 3) as a [B,1,H,W] map of 0/1."""
    grey = image
    if image.shape[1] >= 3:
        grey = image[:, 0:1] * GREY[0] + image[:, 1:2] * GREY[1] + image[:, 2:3] * GREY[2]
    magnitude = _suppress(*_gradients(_blur(grey)))
    strong, weak = magnitude > high, (magnitude > low) & ~(magnitude > high)
    while True:
        grown = strong | (weak & (F.max_pool2d(strong.to(image.dtype), 3, stride=1, padding=1) > 0))
        if torch.equal(grown, strong):
            return strong.to(image.dtype)
        strong = grown


@node(category="image/preprocessors", display_name="Canny", outputs=[Out("IMAGE")])
class Canny(Node):
    """Canny edge map (white edges on black) to use as a ControlNet hint image."""

    image: Annotated[object, Socket("IMAGE")]
    low_threshold: Annotated[float, Widget(step=0.01)] = Field(0.4, ge=0.01, le=0.99)
    high_threshold: Annotated[float, Widget(step=0.01)] = Field(0.8, ge=0.01, le=0.99)

    def run(self, ctx):
        edges = canny(self.image.movedim(-1, 1).float(), self.low_threshold, self.high_threshold)
        return (edges.expand(-1, 3, -1, -1).movedim(1, -1).contiguous(),)
