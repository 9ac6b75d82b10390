"""Image nodes that compute pixels: make, invert, scale and batch IMAGE tensors ([B,H,W,C], 0..1)."""

import math
from typing import Annotated

import torch
from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from nodes.image_tensors import UPSCALE_METHODS, CropMethod, UpscaleMethod, resize_image, target_size

MAX_SIZE = 16384


@node(category="image", display_name="Empty Image", outputs=[Out("IMAGE")])
class EmptyImage(Node):
    """A batch of images filled with one colour (0xRRGGBB)."""

    width: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    height: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    batch_size: int = Field(1, ge=1, le=4096)
    color: Annotated[int, Widget(step=1, display="color")] = Field(0, ge=0, le=0xFFFFFF)

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
    """Resize to width x height; a 0 side keeps the aspect ratio (both 0: unchanged), crop=center avoids
    stretching."""

    image: Annotated[object, Socket("IMAGE")]
    upscale_method: UpscaleMethod
    width: Annotated[int, Widget(step=1)] = Field(512, ge=0, le=MAX_SIZE)
    height: Annotated[int, Widget(step=1)] = Field(512, ge=0, le=MAX_SIZE)
    crop: CropMethod

    def run(self, ctx):
        if self.width == 0 and self.height == 0:
            return (self.image,)
        _, h, w, _ = self.image.shape
        width, height = target_size(self.width, self.height, w, h)
        return (resize_image(self.image, width, height, self.upscale_method, self.crop),)


@node(category="image/upscaling", display_name="Upscale Image By", outputs=[Out("IMAGE")])
class ImageScaleBy(Node):
    """Resize by a factor (each side rounded to whole pixels)."""

    image: Annotated[object, Socket("IMAGE")]
    upscale_method: UpscaleMethod
    scale_by: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.01, le=8.0)

    def run(self, ctx):
        _, h, w, _ = self.image.shape
        return (resize_image(self.image, round(w * self.scale_by), round(h * self.scale_by), self.upscale_method),)


@node(category="image/upscaling", display_name="ImageScaleToMaxDimension", outputs=[Out("IMAGE")])
class ImageScaleToMaxDimension(Node):
    """Resize so the longer side is `largest_size`, keeping the aspect ratio."""

    image: Annotated[object, Socket("IMAGE")]
    # ComfyUI lists bilinear twice; the canvas shows its list as is
    upscale_method: Annotated[str, Combo(["area", "lanczos", "bilinear", "nearest-exact", "bilinear", "bicubic"])]
    largest_size: Annotated[int, Widget(step=1)] = Field(512, ge=0, le=MAX_SIZE)

    def run(self, ctx):
        _, h, w, _ = self.image.shape
        width = height = self.largest_size
        if h > w:
            width = round(w / h * self.largest_size)
        elif w > h:
            height = round(h / w * self.largest_size)
        return (resize_image(self.image, width, height, self.upscale_method),)


@node(category="image/upscaling", display_name="Scale Image to Total Pixels", outputs=[Out("IMAGE")])
class ImageScaleToTotalPixels(Node):
    """Resize to about `megapixels` x 2^20 pixels, keeping the aspect ratio."""

    image: Annotated[object, Socket("IMAGE")]
    upscale_method: Annotated[UpscaleMethod, Combo(UPSCALE_METHODS)]
    megapixels: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.01, le=16.0)

    def run(self, ctx):
        _, h, w, _ = self.image.shape
        scale = math.sqrt(int(self.megapixels * 1024 * 1024) / (w * h))
        return (resize_image(self.image, round(w * scale), round(h * scale), self.upscale_method),)


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
    feathering: Annotated[int, Widget(step=1)] = Field(40, ge=0, le=MAX_SIZE)

    def run(self, ctx):
        batch, h, w, channels = self.image.shape
        out_h, out_w = h + self.top + self.bottom, w + self.left + self.right
        padded = torch.full((batch, out_h, out_w, channels), 0.5, dtype=torch.float32)
        padded[:, self.top:self.top + h, self.left:self.left + w] = self.image
        mask = torch.ones(out_h, out_w)
        mask[self.top:self.top + h, self.left:self.left + w] = self.inner_mask(h, w)
        return (padded, mask[None])

    def inner_mask(self, h: int, w: int) -> torch.Tensor:
        """Inside the original image: ((f - d) / f)^2 where d is the distance to the nearest padded side
        (row i is i from the top and h - i from the bottom); none when 2f does not fit in the image."""
        f = self.feathering
        if f == 0 or 2 * f >= h or 2 * f >= w:
            return torch.zeros(h, w)
        ys, xs = torch.arange(h), torch.arange(w)
        far_y, far_x = torch.full_like(ys, h), torch.full_like(xs, w)
        dist_y = torch.minimum(ys if self.top else far_y, (h - ys) if self.bottom else far_y)
        dist_x = torch.minimum(xs if self.left else far_x, (w - xs) if self.right else far_x)
        distance = torch.minimum(dist_y[:, None], dist_x[None, :])
        fade = (f - distance).double() / f
        return torch.where(distance < f, fade * fade, 0.0).float()
