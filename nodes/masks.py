"""Mask nodes: make, convert, crop, grow, feather, threshold and combine MASKs ([B,H,W] in 0..1), and paste
an image or latent onto another through a mask. ComfyUI's comfy_extras mask nodes, same numbers."""

from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, NodeOutput, Out, Socket, Widget, node
from engine.sampling.cfg import repeat_to_batch
from nodes.image_io import preview_images

MAX_SIZE = 16384
CHANNELS = ("red", "green", "blue", "alpha")


def as_batch(mask: torch.Tensor) -> torch.Tensor:
    """Any [..., H, W] mask as [B,H,W]."""
    return mask.reshape((-1, mask.shape[-2], mask.shape[-1]))


def mask_to_image(mask: torch.Tensor) -> torch.Tensor:
    """MASK -> grey IMAGE [B,H,W,3]."""
    return mask.reshape((-1, 1, mask.shape[-2], mask.shape[-1])).movedim(1, -1).expand(-1, -1, -1, 3)


def paste(destination: torch.Tensor, source: torch.Tensor, x: int, y: int, mask: torch.Tensor | None,
          scale: int, resize_source: bool) -> torch.Tensor:
    """Blend [B,C,h,w] source into destination (modified in place) with its top-left corner at (x, y)
    (in units of 1/scale of a pixel), where mask is 1; parts past the edges are dropped."""
    source = source.to(destination.device)
    if resize_source:
        source = F.interpolate(source, size=destination.shape[-2:], mode="bilinear")
    source = repeat_to_batch(source, destination.shape[0])
    x = max(-source.shape[-1] * scale, min(x, destination.shape[-1] * scale))
    y = max(-source.shape[-2] * scale, min(y, destination.shape[-2] * scale))
    left, top = x // scale, y // scale
    right, bottom = left + source.shape[-1], top + source.shape[-2]
    if mask is None:
        mask = torch.ones_like(source)
    else:
        mask = mask.to(destination.device, copy=True).reshape((-1, 1, mask.shape[-2], mask.shape[-1]))
        mask = repeat_to_batch(F.interpolate(mask, size=source.shape[-2:], mode="bilinear"), source.shape[0])
    visible_w, visible_h = destination.shape[-1] - left + min(0, x), destination.shape[-2] - top + min(0, y)
    mask = mask[:, :, :visible_h, :visible_w]
    blended = mask * source[..., :visible_h, :visible_w] + (1 - mask) * destination[..., top:bottom, left:right]
    destination[..., top:bottom, left:right] = blended
    return destination


def match_alpha(destination: torch.Tensor, source: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Same channel count for two images: the source loses its alpha, or the destination gains an opaque one."""
    if destination.shape[-1] < source.shape[-1]:
        return destination, source[..., :destination.shape[-1]]
    if destination.shape[-1] > source.shape[-1]:
        destination = F.pad(destination, (0, 1))
        destination[..., -1] = 1.0
    return destination, source


@node(category="latent", display_name="LatentCompositeMasked", outputs=[Out("LATENT")])
class LatentCompositeMasked(Node):
    """Paste `source` onto `destination` at (x, y) image pixels (multiples of 8), through an optional mask."""

    destination: Annotated[object, Socket("LATENT")]
    source: Annotated[object, Socket("LATENT")]
    x: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    resize_source: bool = False
    mask: Annotated[object, Socket("MASK")] = None

    def run(self, ctx):
        samples = paste(self.destination["samples"].clone(), self.source["samples"], self.x, self.y, self.mask, 8,
                        self.resize_source)
        return (self.destination | {"samples": samples},)


@node(category="image", display_name="ImageCompositeMasked", outputs=[Out("IMAGE")])
class ImageCompositeMasked(Node):
    """Paste `source` onto `destination` at (x, y) pixels, through an optional mask."""

    destination: Annotated[object, Socket("IMAGE")]
    source: Annotated[object, Socket("IMAGE")]
    x: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    resize_source: bool = False
    mask: Annotated[object, Socket("MASK")] = None

    def run(self, ctx):
        destination, source = match_alpha(self.destination, self.source)
        out = paste(destination.clone().movedim(-1, 1), source.movedim(-1, 1), self.x, self.y, self.mask, 1,
                    self.resize_source)
        return (out.movedim(1, -1),)


@node(category="mask", display_name="Convert Mask to Image", outputs=[Out("IMAGE")])
class MaskToImage(Node):
    """The mask as a grey image."""

    mask: Annotated[object, Socket("MASK")]

    def run(self, ctx):
        return (mask_to_image(self.mask),)


@node(category="mask", display_name="Convert Image to Mask", outputs=[Out("MASK")])
class ImageToMask(Node):
    """One channel of an image as a mask."""

    image: Annotated[object, Socket("IMAGE")]
    channel: Literal["red", "green", "blue", "alpha"]

    def run(self, ctx):
        return (self.image[:, :, :, CHANNELS.index(self.channel)],)


@node(category="mask", display_name="ImageColorToMask", outputs=[Out("MASK")])
class ImageColorToMask(Node):
    """1 where the pixel's 8-bit colour (rounded) is exactly `color` (0xRRGGBB)."""

    image: Annotated[object, Socket("IMAGE")]
    color: Annotated[int, Widget(step=1, display="color")] = Field(0, ge=0, le=0xFFFFFF)

    def run(self, ctx):
        rgb = (torch.clamp(self.image, 0, 1.0) * 255.0).round().to(torch.int)
        packed = (rgb[..., 0] << 16) + (rgb[..., 1] << 8) + rgb[..., 2]
        return (torch.where(packed == self.color, 1.0, 0).float(),)


@node(category="mask", display_name="SolidMask", outputs=[Out("MASK")])
class SolidMask(Node):
    """A width x height mask of one value."""

    value: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=1.0)
    width: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    height: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)

    def run(self, ctx):
        return (torch.full((1, self.height, self.width), self.value, dtype=torch.float32),)


@node(category="mask", display_name="InvertMask", outputs=[Out("MASK")])
class InvertMask(Node):
    """1 - mask."""

    mask: Annotated[object, Socket("MASK")]

    def run(self, ctx):
        return (1.0 - self.mask,)


@node(category="mask", display_name="CropMask", outputs=[Out("MASK")])
class CropMask(Node):
    """A width x height window of the mask at (x, y)."""

    mask: Annotated[object, Socket("MASK")]
    x: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    width: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    height: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)

    def run(self, ctx):
        return (as_batch(self.mask)[:, self.y:self.y + self.height, self.x:self.x + self.width],)


def _combine(a: torch.Tensor, b: torch.Tensor, operation: str) -> torch.Tensor:
    if operation == "multiply":
        return a * b
    if operation == "add":
        return a + b
    if operation == "subtract":
        return a - b
    logic = {"and": torch.bitwise_and, "or": torch.bitwise_or, "xor": torch.bitwise_xor}[operation]
    return logic(a.round().bool(), b.round().bool()).float()


@node(category="mask", display_name="MaskComposite", outputs=[Out("MASK")])
class MaskComposite(Node):
    """Combine `source` into `destination` at (x, y): arithmetic, or logic on the masks rounded to 0/1;
    the result is clipped to 0..1."""

    destination: Annotated[object, Socket("MASK")]
    source: Annotated[object, Socket("MASK")]
    x: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    operation: Literal["multiply", "add", "subtract", "and", "or", "xor"]

    def run(self, ctx):
        out, source = as_batch(self.destination).clone(), as_batch(self.source)
        right, bottom = min(self.x + source.shape[-1], out.shape[-1]), min(self.y + source.shape[-2], out.shape[-2])
        part = source[:, :bottom - self.y, :right - self.x]
        out[:, self.y:bottom, self.x:right] = _combine(out[:, self.y:bottom, self.x:right], part, self.operation)
        return (torch.clamp(out, 0.0, 1.0),)


@node(category="mask", display_name="FeatherMask", outputs=[Out("MASK")])
class FeatherMask(Node):
    """Fade the mask linearly to 0 over the given widths at each edge (ComfyUI's ramps, including its
    right and bottom ramps starting one pixel off: the first column/row gets the last factor)."""

    mask: Annotated[object, Socket("MASK")]
    left: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    top: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    right: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    bottom: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)

    def run(self, ctx):
        out = as_batch(self.mask).clone()
        height, width = out.shape[-2:]
        left, right = min(self.left, width), min(self.right, width)
        top, bottom = min(self.top, height), min(self.bottom, height)
        for i in range(left):
            out[:, :, i] *= (i + 1.0) / left
        for i in range(right):
            out[:, :, -i] *= (i + 1) / right
        for i in range(top):
            out[:, i, :] *= (i + 1) / top
        for i in range(bottom):
            out[:, -i, :] *= (i + 1) / bottom
        return (out,)


@node(category="mask", display_name="GrowMask", outputs=[Out("MASK")])
class GrowMask(Node):
    """Grow (or with a negative `expand`, shrink) the mask one pixel per step; tapered corners use a
    cross-shaped neighbourhood, otherwise the full 3x3 square."""

    mask: Annotated[object, Socket("MASK")]
    expand: Annotated[int, Widget(step=1)] = Field(0, ge=-MAX_SIZE, le=MAX_SIZE)
    tapered_corners: bool = True

    def run(self, ctx):
        corner = 0 if self.tapered_corners else 1
        footprint = np.array([[corner, 1, corner], [1, 1, 1], [corner, 1, corner]])
        import scipy.ndimage  # most of a second to import: only when a mask grows or shrinks

        step = scipy.ndimage.grey_erosion if self.expand < 0 else scipy.ndimage.grey_dilation
        grown = []
        for plane in as_batch(self.mask):
            values = plane.numpy()
            for _ in range(abs(self.expand)):
                values = step(values, footprint=footprint)
            grown.append(torch.from_numpy(values))
        return (torch.stack(grown, dim=0),)


@node(category="mask", display_name="ThresholdMask", outputs=[Out("MASK")])
class ThresholdMask(Node):
    """1 where the mask is above `value`, else 0."""

    mask: Annotated[object, Socket("MASK")]
    value: Annotated[float, Widget(step=0.01)] = Field(0.5, ge=0.0, le=1.0)

    def run(self, ctx):
        return ((self.mask > self.value).float(),)


@node(category="mask", display_name="MaskPreview", outputs=[], output_node=True)
class MaskPreview(Node):
    """Show the mask on the canvas as a grey image (temp folder)."""

    mask: Annotated[object, Socket("MASK")]

    def run(self, ctx):
        return NodeOutput(result=(), ui={"images": preview_images(ctx, mask_to_image(self.mask), compress_level=4)})
