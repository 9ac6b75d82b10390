"""Grey-scale morphology with a flat square kernel (erode, dilate, open, close, gradient, top/bottom hat)
and RGB <-> YCbCr conversion, computed in torch with the conventions ComfyUI gets from kornia: pixels
outside the image are ignored, an even kernel's window is anchored at its centre cell for erosion and
at the reflected one for dilation (so an even dilation reaches one pixel further down/right), and YCbCr
uses the BT.601 coefficients with chroma centred on 0.5 (back to RGB: their exact inverse, clipped)."""

from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node

OPERATIONS = ("erode", "dilate", "open", "close", "gradient", "bottom_hat", "top_hat")


def _window_max(images: torch.Tensor, size: int, before: int) -> torch.Tensor:
    """Max over the size x size window of [B,C,H,W] starting `before` pixels up and left of each pixel."""
    after = size - 1 - before
    padded = F.pad(images, (before, after, before, after), value=float("-inf"))
    return F.max_pool2d(padded, size, stride=1)


def dilate(images: torch.Tensor, size: int) -> torch.Tensor:
    """Max over each pixel's size x size window (window anchored at the reflected centre cell)."""
    return _window_max(images, size, size - size // 2 - 1)


def erode(images: torch.Tensor, size: int) -> torch.Tensor:
    """Min over each pixel's size x size window (window anchored at the centre cell)."""
    return -_window_max(-images, size, size // 2)


def morphology(images: torch.Tensor, operation: str, size: int) -> torch.Tensor:
    """One of OPERATIONS on [B,C,H,W]."""
    if operation == "erode":
        return erode(images, size)
    if operation == "dilate":
        return dilate(images, size)
    if operation == "gradient":
        return dilate(images, size) - erode(images, size)
    if operation in ("open", "top_hat"):
        opened = dilate(erode(images, size), size)
        return opened if operation == "open" else images - opened
    if operation in ("close", "bottom_hat"):
        closed = erode(dilate(images, size), size)
        return closed if operation == "close" else closed - images
    raise ValueError(f"ImageMorphology: operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")


@node(category="image/postprocessing", display_name="ImageMorphology", outputs=[Out("IMAGE")])
class Morphology(Node):
    """Morphological operation with a kernel_size x kernel_size square."""

    image: Annotated[object, Socket("IMAGE")]
    operation: Annotated[str, Combo(OPERATIONS)]
    kernel_size: Annotated[int, Widget(step=1)] = Field(3, ge=3, le=999)

    def run(self, ctx):
        return (morphology(self.image.movedim(-1, 1), self.operation, self.kernel_size).movedim(1, -1),)


def rgb_to_ycbcr(rgb: torch.Tensor) -> torch.Tensor:
    """[..., 3] RGB -> [..., 3] Y, Cb, Cr (Cb and Cr centred on 0.5)."""
    r, g, b = rgb.unbind(-1)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return torch.stack([y, (b - y) * 0.564 + 0.5, (r - y) * 0.713 + 0.5], dim=-1)


def ycbcr_to_rgb(ycbcr: torch.Tensor) -> torch.Tensor:
    """Inverse of rgb_to_ycbcr (1/0.713, 1/0.564 and the green terms they imply), clipped to 0..1."""
    y, cb, cr = ycbcr.unbind(-1)
    cb, cr = cb - 0.5, cr - 0.5
    rgb = [y + 1.4025245442 * cr, y - 0.7144034731 * cr - 0.3443401356 * cb, y + 1.7730496454 * cb]
    return torch.stack(rgb, dim=-1).clamp(0, 1)


@node(category="image/batch", display_name="ImageRGBToYUV",
      outputs=[Out("IMAGE", "Y"), Out("IMAGE", "U"), Out("IMAGE", "V")])
class ImageRGBToYUV(Node):
    """Split into Y, U (Cb) and V (Cr), each as a grey image."""

    image: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        planes = rgb_to_ycbcr(self.image[..., :3])
        return tuple(planes[..., i:i + 1].expand_as(self.image) for i in range(3))


@node(category="image/batch", display_name="ImageYUVToRGB", outputs=[Out("IMAGE")])
class ImageYUVToRGB(Node):
    """Join Y, U and V grey images (each averaged over its channels) back into RGB."""

    Y: Annotated[object, Socket("IMAGE")]
    U: Annotated[object, Socket("IMAGE")]
    V: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        planes = torch.stack([torch.mean(p, dim=-1) for p in (self.Y, self.U, self.V)], dim=-1)
        return (ycbcr_to_rgb(planes),)
