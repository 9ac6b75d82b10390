"""Image filters for making control images inside a workflow: Canny edges, in torch (no OpenCV/kornia).

Canny follows the usual recipe (as kornia, which ComfyUI's node uses): grey, 5x5 Gaussian (sigma 1),
normalised Sobel gradients, non-maximum suppression along the gradient direction, double threshold,
hysteresis (weak edges kept where 8-connected to strong ones).
"""

from __future__ import annotations

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node

GREY = (0.299, 0.587, 0.114)
# Neighbour offsets (dy, dx) along the gradient for directions 0, 45, 90, 135 degrees.
_DIRECTIONS = ((0, 1), (1, 1), (1, 0), (1, -1))


def _gaussian(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def _filter(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    pad = kernel.shape[-1] // 2
    return F.conv2d(F.pad(image, (pad,) * 4, mode="replicate"), kernel.to(image))


def _shift(t: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """t moved so that out[y, x] = t[y + dy, x + dx] (zeros outside)."""
    padded = F.pad(t, (1, 1, 1, 1))
    h, w = t.shape[-2:]
    return padded[..., 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]


def canny(image: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Edges of [B,C,H,W] images in 0..1 as a [B,1,H,W] map of 0/1."""
    grey = image[:, :3] if image.shape[1] >= 3 else image.expand(-1, 3, -1, -1)
    grey = (grey * torch.tensor(GREY, device=image.device, dtype=image.dtype).reshape(1, 3, 1, 1)).sum(1, True)
    grey = _filter(grey, _gaussian())
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8
    gx, gy = _filter(grey, sobel[None, None]), _filter(grey, sobel.t()[None, None])
    magnitude = torch.sqrt(gx**2 + gy**2 + 1e-6)
    direction = torch.round(torch.atan2(gy, gx) / (math.pi / 4)).remainder(4).long()
    keep = torch.zeros_like(magnitude, dtype=torch.bool)
    for index, (dy, dx) in enumerate(_DIRECTIONS):
        # >= on one side keeps exactly one pixel of a ridge two pixels wide (a step between pixels)
        local_max = (magnitude >= _shift(magnitude, dy, dx)) & (magnitude > _shift(magnitude, -dy, -dx))
        keep |= (direction == index) & local_max
    thin = magnitude * keep
    strong, weak = thin > high, thin > low
    while True:
        grown = weak & (F.max_pool2d(strong.float(), 3, stride=1, padding=1) > 0)
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
