"""Latent nodes that move or regroup latent pixels: crop, rotate, flip, pick from or repeat a batch, blend
and paste one latent onto another. ComfyUI's `nodes` module latent nodes, same numbers; positions and sizes
are in image pixels (8 per latent pixel)."""

from typing import Annotated

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.image_resize import interpolate
from engine.sampling.cfg import repeat_to_batch
from nodes.image_transform import FlipMethod, Rotation, quarter_turns

MAX_SIZE = 16384
SCALE = 8


@node(category="latent/transform", display_name="Crop Latent", outputs=[Out("LATENT")])
class LatentCrop(Node):
    """A width x height window at (x, y); the window starts at least 64 pixels before the right and
    bottom edges."""

    samples: Annotated[object, Socket("LATENT")]
    width: Annotated[int, Widget(step=8)] = Field(512, ge=64, le=MAX_SIZE)
    height: Annotated[int, Widget(step=8)] = Field(512, ge=64, le=MAX_SIZE)
    x: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)

    def run(self, ctx):
        samples = self.samples["samples"]
        x = min(self.x // SCALE, samples.shape[3] - 8)
        y = min(self.y // SCALE, samples.shape[2] - 8)
        window = samples[:, :, y:y + self.height // SCALE, x:x + self.width // SCALE]
        return (self.samples | {"samples": window},)


@node(category="latent/transform", display_name="Rotate Latent", outputs=[Out("LATENT")])
class LatentRotate(Node):
    """Rotate clockwise by quarter turns."""

    samples: Annotated[object, Socket("LATENT")]
    rotation: Rotation

    def run(self, ctx):
        rotated = torch.rot90(self.samples["samples"], k=quarter_turns(self.rotation), dims=[3, 2])
        return (self.samples | {"samples": rotated},)


@node(category="latent/transform", display_name="Flip Latent", outputs=[Out("LATENT")])
class LatentFlip(Node):
    """Mirror upside down (x-axis) or left to right (y-axis)."""

    samples: Annotated[object, Socket("LATENT")]
    flip_method: FlipMethod

    def run(self, ctx):
        dim = 2 if self.flip_method.startswith("x") else 3
        return (self.samples | {"samples": torch.flip(self.samples["samples"], dims=[dim])},)


@node(category="latent/batch", display_name="Latent From Batch", outputs=[Out("LATENT")])
class LatentFromBatch(Node):
    """`length` latents from `batch_index` on, with their noise masks and batch indices (the indices keep
    each latent's noise seed)."""

    samples: Annotated[object, Socket("LATENT")]
    batch_index: int = Field(0, ge=0, le=63)
    length: int = Field(1, ge=1, le=64)

    def run(self, ctx):
        source = self.samples["samples"]
        start = min(source.shape[0] - 1, self.batch_index)
        length = min(source.shape[0] - start, self.length)
        out = self.samples | {"samples": source[start:start + length].clone()}
        if "noise_mask" in self.samples:
            masks = self.samples["noise_mask"]
            if masks.shape[0] == 1:
                out["noise_mask"] = masks.clone()
            else:
                out["noise_mask"] = repeat_to_batch(masks, max(masks.shape[0], source.shape[0]))[
                    start:start + length].clone()
        indices = self.samples.get("batch_index")
        out["batch_index"] = list(range(start, start + length)) if indices is None else indices[start:start + length]
        return (out,)


@node(category="latent/batch", display_name="Repeat Latent Batch", outputs=[Out("LATENT")])
class RepeatLatentBatch(Node):
    """The whole batch `amount` times over; batch indices continue past the original ones."""

    samples: Annotated[object, Socket("LATENT")]
    amount: int = Field(1, ge=1, le=64)

    def run(self, ctx):
        source = self.samples["samples"]
        out = self.samples | {"samples": source.repeat((self.amount,) + (1,) * (source.ndim - 1))}
        masks = self.samples.get("noise_mask")
        if masks is not None and masks.shape[0] > 1:
            out["noise_mask"] = masks.repeat((self.amount,) + (1,) * (masks.ndim - 1))
        if "batch_index" in out:
            indices = out["batch_index"]
            offset = max(indices) - min(indices) + 1
            out["batch_index"] = indices + [i + n * offset for n in range(1, self.amount) for i in indices]
        return (out,)


@node(category="_for_testing", display_name="Latent Blend", outputs=[Out("LATENT")])
class LatentBlend(Node):
    """samples1 x blend_factor + samples2 x (1 - blend_factor); samples2 is resized (bicubic, centre crop)
    to samples1's size first."""

    samples1: Annotated[object, Socket("LATENT")]
    samples2: Annotated[object, Socket("LATENT")]
    blend_factor: Annotated[float, Widget(step=0.01)] = Field(0.5, ge=0, le=1)

    def run(self, ctx):
        first, second = self.samples1["samples"], self.samples2["samples"]
        if first.shape != second.shape:
            second = interpolate(second, first.shape[3], first.shape[2], "bicubic", "center")
        return (self.samples1 | {"samples": first * self.blend_factor + second * (1 - self.blend_factor)},)


def _feather_mask(shape: torch.Size, feather: int, x: int, y: int, to_h: int, to_w: int) -> torch.Tensor:
    """1 inside, ramping down over `feather` latent pixels on each side that does not touch the edge."""
    mask = torch.ones(shape)
    height, width = shape[2], shape[3]
    for t in range(feather):
        ramp = (1.0 / feather) * (t + 1)
        if y != 0:
            mask[:, :, t:1 + t, :] *= ramp
        if y + height < to_h:
            mask[:, :, height - 1 - t:height - t, :] *= ramp
        if x != 0:
            mask[:, :, :, t:1 + t] *= ramp
        if x + width < to_w:
            mask[:, :, :, width - 1 - t:width - t] *= ramp
    return mask


@node(category="latent", display_name="Latent Composite", outputs=[Out("LATENT")])
class LatentComposite(Node):
    """Paste samples_from onto samples_to at (x, y), optionally feathering the pasted edges."""

    samples_to: Annotated[object, Socket("LATENT")]
    samples_from: Annotated[object, Socket("LATENT")]
    x: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    y: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)
    feather: Annotated[int, Widget(step=8)] = Field(0, ge=0, le=MAX_SIZE)

    def run(self, ctx):
        x, y, feather = self.x // SCALE, self.y // SCALE, self.feather // SCALE
        target = self.samples_to["samples"]
        out = target.clone()
        source = self.samples_from["samples"][:, :, :target.shape[2] - y, :target.shape[3] - x]
        region = (slice(None), slice(None), slice(y, y + source.shape[2]), slice(x, x + source.shape[3]))
        if feather == 0:
            out[region] = source
        else:
            mask = _feather_mask(source.shape, feather, x, y, target.shape[2], target.shape[3])
            out[region] = source * mask + out[region] * (1 - mask)
        return (self.samples_to | {"samples": out},)
