"""Post-processing nodes: blend two images, Gaussian blur, sharpen, palette quantization. ComfyUI's
comfy_extras post-processing nodes, same numbers (including its Gaussian kernel, sampled on [-1, 1]
whatever the radius)."""

import math
from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.image_resize import interpolate
from nodes.masks import match_alpha

BLEND_MODES = ("normal", "multiply", "screen", "overlay", "soft_light", "difference")
DITHERS = ("none", "floyd-steinberg", "bayer-2", "bayer-4", "bayer-8", "bayer-16")


def gaussian_kernel(size: int, sigma: float, device=None) -> torch.Tensor:
    """A size x size Gaussian sampled on an evenly spaced [-1, 1] grid, summing to 1."""
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size, device=device), torch.linspace(-1, 1, size, device=device),
                            indexing="ij")
    distance = torch.sqrt(xs * xs + ys * ys)
    weights = torch.exp(-(distance * distance) / (2.0 * sigma * sigma))
    return weights / weights.sum()


def sharpen_kernel(gaussian: torch.Tensor, alpha: float) -> torch.Tensor:
    """Unsharp mask: minus 10 alpha times the blur, with the centre raised so the kernel sums to 1."""
    kernel = gaussian * -(alpha * 10)
    center = kernel.shape[0] // 2
    kernel[center, center] = kernel[center, center] - kernel.sum() + 1.0
    return kernel


def convolve_channels(images: torch.Tensor, kernel: torch.Tensor, radius: int) -> torch.Tensor:
    """Each channel of [B,C,H,W] convolved with the same (2r+1)^2 kernel, reflect-padded at the borders."""
    channels = images.shape[1]
    padded = F.pad(images, (radius, radius, radius, radius), "reflect")
    weights = kernel.to(images.dtype).repeat(channels, 1, 1).unsqueeze(1)
    return F.conv2d(padded, weights, groups=channels)


def _blend(a: torch.Tensor, b: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "normal":
        return b
    if mode == "multiply":
        return a * b
    if mode == "screen":
        return 1 - (1 - a) * (1 - b)
    if mode == "overlay":
        return torch.where(a <= 0.5, 2 * a * b, 1 - 2 * (1 - a) * (1 - b))
    if mode == "soft_light":
        curve = torch.where(a <= 0.25, ((16 * a - 12) * a + 4) * a, torch.sqrt(a))
        return torch.where(b <= 0.5, a - (1 - 2 * b) * a * (1 - a), a + (2 * b - 1) * (curve - a))
    return a - b


@node(category="image/postprocessing", display_name="Image Blend", outputs=[Out("IMAGE")])
class ImageBlend(Node):
    """Blend image2 over image1 with a blend mode, mixed in by blend_factor and clipped to 0..1; image2 is
    resized (bicubic, centre crop) to image1's size."""

    image1: Annotated[object, Socket("IMAGE")]
    image2: Annotated[object, Socket("IMAGE")]
    blend_factor: Annotated[float, Widget(step=0.01)] = Field(0.5, ge=0.0, le=1.0)
    blend_mode: Annotated[str, Combo(BLEND_MODES)]

    def run(self, ctx):
        first, second = match_alpha(self.image1, self.image2)
        second = second.to(first.device)
        if first.shape != second.shape:
            second = interpolate(second.movedim(-1, 1), first.shape[2], first.shape[1], "bicubic", "center")
            second = second.movedim(1, -1)
        blended = first * (1 - self.blend_factor) + _blend(first, second, self.blend_mode) * self.blend_factor
        return (torch.clamp(blended, 0, 1),)


@node(category="image/postprocessing", display_name="Image Blur", outputs=[Out("IMAGE")])
class ImageBlur(Node):
    """Gaussian blur over a (2 radius + 1) square."""

    image: Annotated[object, Socket("IMAGE")]
    blur_radius: Annotated[int, Widget(step=1)] = Field(1, ge=1, le=31)
    sigma: Annotated[float, Widget(step=0.1)] = Field(1.0, ge=0.1, le=10.0)

    def run(self, ctx):
        kernel = gaussian_kernel(self.blur_radius * 2 + 1, self.sigma, device=self.image.device)
        return (convolve_channels(self.image.movedim(-1, 1), kernel, self.blur_radius).movedim(1, -1),)


@node(category="image/postprocessing", display_name="Image Sharpen", outputs=[Out("IMAGE")])
class ImageSharpen(Node):
    """Unsharp mask over a (2 radius + 1) square, clipped to 0..1."""

    image: Annotated[object, Socket("IMAGE")]
    sharpen_radius: Annotated[int, Widget(step=1)] = Field(1, ge=1, le=31)
    sigma: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.1, le=10.0)
    alpha: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=5.0)

    def run(self, ctx):
        gaussian = gaussian_kernel(self.sharpen_radius * 2 + 1, self.sigma, device=self.image.device)
        kernel = sharpen_kernel(gaussian.to(self.image.dtype), self.alpha)
        sharpened = convolve_channels(self.image.movedim(-1, 1), kernel, self.sharpen_radius).movedim(1, -1)
        return (torch.clamp(sharpened, 0, 1),)


def _bayer_matrix(level: int) -> np.ndarray:
    """The normalised ordered-dither matrix of size 2^level (values around 0, spread 1)."""
    if level == 0:
        return np.zeros((1, 1), "float32")
    q = 4 ** level
    m = q * _bayer_matrix(level - 1)
    return np.block([[m - 1.5, m + 0.5], [m + 1.5, m - 0.5]]) / q


def _bayer_dither(image: Image.Image, palette: Image.Image, order: int) -> Image.Image:
    """Add a tiled Bayer threshold pattern scaled to the palette's spacing, then map to the palette."""
    spread = 2 * 256 / (len(palette.getpalette()) // 3)
    pattern = torch.from_numpy(spread * _bayer_matrix(int(math.log2(order))) + 0.5)
    pixels = torch.from_numpy(np.array(image).astype(np.float32))
    tiles = (math.ceil(pixels.shape[0] / pattern.shape[0]), math.ceil(pixels.shape[1] / pattern.shape[1]))
    pixels.add_(pattern.tile(tiles).unsqueeze(-1)[:pixels.shape[0], :pixels.shape[1]]).clamp_(0, 255)
    dithered = Image.fromarray(pixels.to(dtype=torch.uint8).numpy())
    return dithered.quantize(palette=palette, dither=Image.Dither.NONE)


@node(category="image/postprocessing", display_name="Image Quantize", outputs=[Out("IMAGE")])
class ImageQuantize(Node):
    """Reduce to a palette of `colors` (Pillow's median cut), with optional dithering."""

    image: Annotated[object, Socket("IMAGE")]
    colors: Annotated[int, Widget(step=1)] = Field(256, ge=1, le=256)
    dither: Annotated[str, Combo(DITHERS)]

    def run(self, ctx):
        out = torch.zeros_like(self.image)
        for index, frame in enumerate(self.image):
            pil = Image.fromarray((frame * 255).to(torch.uint8).numpy(), mode="RGB")
            palette = pil.quantize(colors=self.colors)
            if self.dither.startswith("bayer"):
                quantized = _bayer_dither(pil, palette, int(self.dither.split("-")[-1]))
            else:
                method = Image.Dither.NONE if self.dither == "none" else Image.Dither.FLOYDSTEINBERG
                quantized = pil.quantize(palette=palette, dither=method)
            out[index] = torch.tensor(np.array(quantized.convert("RGB"))).float() / 255
        return (out,)
