"""Image nodes that move pixels without computing new ones (crop, flip, rotate, stitch, pad) or regroup a
batch (pick, repeat), plus size and noise helpers; ComfyUI's comfy_extras image nodes, same numbers."""

from typing import Annotated, Literal

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.image_tensors import resize_channels_first, resize_image

MAX_SIZE = 16384
Rotation = Literal["none", "90 degrees", "180 degrees", "270 degrees"]
FlipMethod = Literal["x-axis: vertically", "y-axis: horizontally"]
STITCH_COLORS = {"white": (1.0, 1.0, 1.0), "black": (0.0, 0.0, 0.0), "red": (1.0, 0.0, 0.0),
                 "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


def quarter_turns(rotation: str) -> int:
    """"90 degrees" -> 1, ... ("none" -> 0)."""
    return {"90": 1, "180": 2, "270": 3}.get(rotation.split(" ")[0], 0)


@node(category="image/transform", display_name="Image Crop", outputs=[Out("IMAGE")])
class ImageCrop(Node):
    """Cut a width x height window at (x, y); a window past the edge is cut short."""

    image: Annotated[object, Socket("IMAGE")]
    width: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    height: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    x: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=1)] = Field(0, ge=0, le=MAX_SIZE)

    def run(self, ctx):
        x, y = min(self.x, self.image.shape[2] - 1), min(self.y, self.image.shape[1] - 1)
        return (self.image[:, y:y + self.height, x:x + self.width, :],)


@node(category="image/transform", display_name="Image Flip", outputs=[Out("IMAGE")])
class ImageFlip(Node):
    """Mirror upside down (x-axis) or left to right (y-axis)."""

    image: Annotated[object, Socket("IMAGE")]
    flip_method: FlipMethod

    def run(self, ctx):
        return (torch.flip(self.image, dims=[1 if self.flip_method.startswith("x") else 2]),)


@node(category="image/transform", display_name="Image Rotate", outputs=[Out("IMAGE")])
class ImageRotate(Node):
    """Rotate clockwise by quarter turns."""

    image: Annotated[object, Socket("IMAGE")]
    rotation: Rotation

    def run(self, ctx):
        return (torch.rot90(self.image, k=quarter_turns(self.rotation), dims=[2, 1]),)


@node(category="image/batch", display_name="Get Image from Batch", outputs=[Out("IMAGE")])
class ImageFromBatch(Node):
    """`length` images from `batch_index` on (both cut to what the batch holds)."""

    image: Annotated[object, Socket("IMAGE")]
    batch_index: int = Field(0, ge=0, le=4095)
    length: int = Field(1, ge=1, le=4096)

    def run(self, ctx):
        start = min(self.image.shape[0] - 1, self.batch_index)
        length = min(self.image.shape[0] - start, self.length)
        return (self.image[start:start + length].clone(),)


@node(category="image/batch", display_name="Repeat Image Batch", outputs=[Out("IMAGE")])
class RepeatImageBatch(Node):
    """The whole batch `amount` times over."""

    image: Annotated[object, Socket("IMAGE")]
    amount: int = Field(1, ge=1, le=4096)

    def run(self, ctx):
        return (self.image.repeat((self.amount, 1, 1, 1)),)


@node(category="image", display_name="Image Add Noise", outputs=[Out("IMAGE")])
class ImageAddNoise(Node):
    """Add seeded Gaussian noise (CPU generator, so any device gives the same picture), clipped to 0..1."""

    image: Annotated[object, Socket("IMAGE")]
    seed: Annotated[int, Widget(control_after_generate=True)] = Field(0, ge=0, le=0xFFFFFFFFFFFFFFFF)
    strength: Annotated[float, Widget(step=0.01)] = Field(0.5, ge=0.0, le=1.0)

    def run(self, ctx):
        generator = torch.manual_seed(self.seed)
        noise = torch.randn(self.image.size(), generator=generator, device="cpu").to(self.image)
        return (torch.clip(self.image + self.strength * noise, min=0.0, max=1.0),)


@node(category="image", display_name="Get Image Size",
      outputs=[Out("INT", "width"), Out("INT", "height"), Out("INT", "batch_size")])
class GetImageSize(Node):
    """Width, height and batch size of an image batch."""

    image: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        batch, height, width = self.image.shape[:3]
        return (width, height, batch)


def _pad_centered(image: torch.Tensor, size: int, dim: int, value: float) -> torch.Tensor:
    """Pad dim 1 (height) or 2 (width) of [B,H,W,C] to `size`, half before and half after."""
    missing = size - image.shape[dim]
    if missing <= 0:
        return image
    before = missing // 2
    pads = (0, 0, before, missing - before) if dim == 2 else (0, 0, 0, 0, before, missing - before)
    return torch.nn.functional.pad(image, pads, mode="constant", value=value)


def _with_channels(image: torch.Tensor, channels: int) -> torch.Tensor:
    """Extra channels (alpha) filled with 1."""
    extra = channels - image.shape[-1]
    if extra <= 0:
        return image
    return torch.cat([image, torch.ones(*image.shape[:-1], extra, device=image.device)], dim=-1)


def _spacer(color: str, batch: int, height: int, width: int, channels: int, device) -> torch.Tensor:
    spacer = torch.zeros((batch, height, width, channels), device=device)
    for index, value in enumerate(STITCH_COLORS[color][:channels]):
        spacer[..., index] = value
    if channels == 4:
        spacer[..., 3] = 1.0
    return spacer


@node(category="image/transform", display_name="Image Stitch", outputs=[Out("IMAGE")])
class ImageStitch(Node):
    """Put image2 beside image1 (right/left) or below/above it, optionally resized (Lanczos) to match
    and with a coloured gap; shorter batches repeat their last image."""

    image1: Annotated[object, Socket("IMAGE")]
    direction: Literal["right", "down", "left", "up"] = "right"
    match_image_size: bool = True
    spacing_width: Annotated[int, Widget(step=2)] = Field(0, ge=0, le=1024)
    spacing_color: Literal["white", "black", "red", "green", "blue"] = "white"
    image2: Annotated[object, Socket("IMAGE")] = None

    def run(self, ctx):
        first, second = self.image1, self.image2
        if second is None:
            return (first,)
        batch = max(first.shape[0], second.shape[0])
        first, second = (torch.cat([i, i[-1:].repeat(batch - i.shape[0], 1, 1, 1)]) for i in (first, second))
        sideways = self.direction in ("left", "right")
        if self.match_image_size:
            (h1, w1), (h2, w2) = first.shape[1:3], second.shape[1:3]
            aspect = w2 / h2
            width, height = (int(h1 * aspect), h1) if sideways else (w1, int(w1 / aspect))
            second = resize_channels_first(second.movedim(-1, 1), width, height, "lanczos").movedim(1, -1)
        else:
            value = 0.0 if self.spacing_color in ("red", "green", "blue") else STITCH_COLORS[self.spacing_color][0]
            dim = 1 if sideways else 2
            size = max(first.shape[dim], second.shape[dim])
            first, second = _pad_centered(first, size, dim, value), _pad_centered(second, size, dim, value)
        channels = max(first.shape[-1], second.shape[-1])
        first, second = _with_channels(first, channels), _with_channels(second, channels)
        parts = [second, first] if self.direction in ("left", "up") else [first, second]
        if self.spacing_width > 0:
            gap = self.spacing_width + self.spacing_width % 2
            height, width = ((max(first.shape[1], second.shape[1]), gap) if sideways
                             else (gap, max(first.shape[2], second.shape[2])))
            parts.insert(1, _spacer(self.spacing_color, first.shape[0], height, width, channels, first.device))
        return (torch.cat(parts, dim=2 if sideways else 1),)


@node(category="image/transform", display_name="ResizeAndPadImage", outputs=[Out("IMAGE")])
class ResizeAndPadImage(Node):
    """Fit inside target_width x target_height keeping the aspect ratio, centred on white or black."""

    image: Annotated[object, Socket("IMAGE")]
    target_width: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    target_height: Annotated[int, Widget(step=1)] = Field(512, ge=1, le=MAX_SIZE)
    padding_color: Literal["white", "black"]
    interpolation: Literal["area", "bicubic", "nearest-exact", "bilinear", "lanczos"]

    def run(self, ctx):
        batch, height, width, channels = self.image.shape
        scale = min(self.target_width / width, self.target_height / height)
        new_w, new_h = int(width * scale), int(height * scale)
        resized = resize_image(self.image, new_w, new_h, self.interpolation)
        fill = 0.0 if self.padding_color == "black" else 1.0
        out = torch.full((batch, self.target_height, self.target_width, channels), fill, dtype=self.image.dtype,
                         device=self.image.device)
        top, left = (self.target_height - new_h) // 2, (self.target_width - new_w) // 2
        out[:, top:top + new_h, left:left + new_w] = resized
        return (out,)
