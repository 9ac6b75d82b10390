"""Image nodes that compute pixels: make, invert, scale and batch IMAGE tensors ([B,H,W,C], 0..1)."""

from typing import Annotated

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.image_tensors import CropMethod, UpscaleMethod, resize_image, target_size

MAX_SIZE = 16384


@node(category="image", display_name="Empty Image", outputs=[Out("IMAGE")])
class EmptyImage(Node):
    """A batch of images filled with one colour (0xRRGGBB)."""

    width: int = Field(512, ge=1, le=MAX_SIZE)
    height: int = Field(512, ge=1, le=MAX_SIZE)
    batch_size: int = Field(1, ge=1, le=4096)
    color: Annotated[int, Widget(display="color")] = Field(0, ge=0, le=0xFFFFFF)

    def run(self, ctx):
        rgb = [(self.color >> shift & 0xFF) / 255.0 for shift in (16, 8, 0)]
        pixel = torch.tensor(rgb, dtype=torch.float32)
        return (pixel.expand(self.batch_size, self.height, self.width, 3).clone(),)


@node(category="image", display_name="Invert Image", outputs=[Out("IMAGE")])
class ImageInvert(Node):
    """Invert colours (1 - x)."""

    image: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        return (1.0 - self.image,)


@node(category="image/upscaling", display_name="Upscale Image", outputs=[Out("IMAGE")])
class ImageScale(Node):
    """Resize to width x height; a 0 side keeps the aspect ratio, crop=center avoids stretching."""

    image: Annotated[object, Socket("IMAGE")]
    upscale_method: UpscaleMethod = "nearest-exact"
    width: int = Field(512, ge=0, le=MAX_SIZE)
    height: int = Field(512, ge=0, le=MAX_SIZE)
    crop: CropMethod = "disabled"

    def run(self, ctx):
        _, h, w, _ = self.image.shape
        width, height = target_size(self.width, self.height, w, h)
        if (width, height) == (w, h) and self.crop == "disabled":
            return (self.image,)
        return (resize_image(self.image, width, height, self.upscale_method, self.crop),)


@node(category="image/upscaling", display_name="Upscale Image By", outputs=[Out("IMAGE")])
class ImageScaleBy(Node):
    """Resize by a factor (each side rounded to whole pixels)."""

    image: Annotated[object, Socket("IMAGE")]
    upscale_method: UpscaleMethod = "nearest-exact"
    scale_by: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.01, le=8.0)

    def run(self, ctx):
        _, h, w, _ = self.image.shape
        width, height = max(1, round(w * self.scale_by)), max(1, round(h * self.scale_by))
        return (resize_image(self.image, width, height, self.upscale_method),)


@node(category="image", display_name="Batch Images", outputs=[Out("IMAGE")])
class ImageBatch(Node):
    """Join two batches; the second is resized (centre crop, bilinear) to the first's size."""

    image1: Annotated[object, Socket("IMAGE")]
    image2: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        first, second = self.image1, self.image2
        if first.shape[1:3] != second.shape[1:3]:
            second = resize_image(second, first.shape[2], first.shape[1], "bilinear", "center")
        if first.shape[-1] != second.shape[-1]:
            channels = min(first.shape[-1], second.shape[-1])
            first, second = first[..., :channels], second[..., :channels]
        return (torch.cat([first, second], dim=0),)


@node(category="image", display_name="Pad Image for Outpainting", outputs=[Out("IMAGE"), Out("MASK")])
class ImagePadForOutpaint(Node):
    """Grow the canvas with gray borders; MASK is 1 on the new borders and fades into the image
    over `feathering` pixels, so the outpainted area blends in."""

    image: Annotated[object, Socket("IMAGE")]
    left: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    top: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    right: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    bottom: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    feathering: int = Field(40, ge=0, le=MAX_SIZE)

    def run(self, ctx):
        batch, h, w, channels = self.image.shape
        out_h, out_w = h + self.top + self.bottom, w + self.left + self.right
        padded = torch.full((batch, out_h, out_w, channels), 0.5, dtype=self.image.dtype)
        padded[:, self.top:self.top + h, self.left:self.left + w] = self.image
        mask = torch.ones(out_h, out_w)
        mask[self.top:self.top + h, self.left:self.left + w] = self.inner_mask(h, w)
        return (padded, mask[None].expand(batch, -1, -1).clone())

    def inner_mask(self, h: int, w: int) -> torch.Tensor:
        """Inside the original image: ((f - d) / f)^2 where d is the distance to the nearest padded side."""
        if self.feathering == 0:
            return torch.zeros(h, w)
        far = float(h + w)
        ys, xs = torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32)
        dist_y = torch.minimum(ys if self.top else torch.full_like(ys, far),
                               (h - 1 - ys) if self.bottom else torch.full_like(ys, far))
        dist_x = torch.minimum(xs if self.left else torch.full_like(xs, far),
                               (w - 1 - xs) if self.right else torch.full_like(xs, far))
        distance = torch.minimum(dist_y[:, None], dist_x[None, :])
        fade = ((self.feathering - distance) / self.feathering).clamp(min=0)
        return fade * fade
