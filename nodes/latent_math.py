"""Latent arithmetic: add, subtract, multiply, interpolate, join and cut latents, seed behaviour of a batch,
and LATENT_OPERATIONs (sharpen, Reinhard tonemap) applied to a latent. ComfyUI's comfy_extras latent nodes,
same numbers."""

from typing import Annotated, Any, Literal

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.image_resize import interpolate
from engine.sampling.cfg import repeat_to_batch
from nodes.postprocessing import convolve_channels, gaussian_kernel, sharpen_kernel

MAX_SIZE = 16384
DIMS = {"x": -1, "y": -2, "t": -3}


def reshaped_like(target: torch.Tensor, latent: torch.Tensor, repeat_batch: bool = True) -> torch.Tensor:
    """`latent` resized (bilinear, centre crop) to target's size, and its batch cycled to target's."""
    if latent.shape[1:] != target.shape[1:]:
        latent = interpolate(latent, target.shape[-1], target.shape[-2], "bilinear", "center")
    return repeat_to_batch(latent, target.shape[0]) if repeat_batch else latent


def _pair(first: dict, second: dict) -> tuple[torch.Tensor, torch.Tensor]:
    return first["samples"], reshaped_like(first["samples"], second["samples"])


@node(category="latent/advanced", display_name="LatentAdd", outputs=[Out("LATENT")])
class LatentAdd(Node):
    """samples1 + samples2."""

    samples1: Annotated[object, Socket("LATENT")]
    samples2: Annotated[object, Socket("LATENT")]

    def run(self, ctx):
        a, b = _pair(self.samples1, self.samples2)
        return (self.samples1 | {"samples": a + b},)


@node(category="latent/advanced", display_name="LatentSubtract", outputs=[Out("LATENT")])
class LatentSubtract(Node):
    """samples1 - samples2."""

    samples1: Annotated[object, Socket("LATENT")]
    samples2: Annotated[object, Socket("LATENT")]

    def run(self, ctx):
        a, b = _pair(self.samples1, self.samples2)
        return (self.samples1 | {"samples": a - b},)


@node(category="latent/advanced", display_name="LatentMultiply", outputs=[Out("LATENT")])
class LatentMultiply(Node):
    """samples x multiplier."""

    samples: Annotated[object, Socket("LATENT")]
    multiplier: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=-10.0, le=10.0)

    def run(self, ctx):
        return (self.samples | {"samples": self.samples["samples"] * self.multiplier},)


@node(category="latent/advanced", display_name="LatentInterpolate", outputs=[Out("LATENT")])
class LatentInterpolate(Node):
    """Mix the directions of the two latents' channel vectors by `ratio` and their lengths likewise
    (ComfyUI divides by the [B,H,W] norms with plain broadcasting, so batches above 1 must equal the
    channel count)."""

    samples1: Annotated[object, Socket("LATENT")]
    samples2: Annotated[object, Socket("LATENT")]
    ratio: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=1.0)

    def run(self, ctx):
        a, b = _pair(self.samples1, self.samples2)
        norm_a, norm_b = torch.linalg.vector_norm(a, dim=1), torch.linalg.vector_norm(b, dim=1)
        mixed = torch.nan_to_num(a / norm_a) * self.ratio + torch.nan_to_num(b / norm_b) * (1.0 - self.ratio)
        direction = torch.nan_to_num(mixed / torch.linalg.vector_norm(mixed, dim=1))
        return (self.samples1 | {"samples": direction * (norm_a * self.ratio + norm_b * (1.0 - self.ratio))},)


@node(category="latent/batch", display_name="LatentBatch", outputs=[Out("LATENT")])
class LatentBatch(Node):
    """Join two batches (the second resized to the first's size); batch indices follow along."""

    samples1: Annotated[object, Socket("LATENT")]
    samples2: Annotated[object, Socket("LATENT")]

    def run(self, ctx):
        a = self.samples1["samples"]
        b = reshaped_like(a, self.samples2["samples"], repeat_batch=False)
        indices = (self.samples1.get("batch_index", list(range(a.shape[0])))
                   + self.samples2.get("batch_index", list(range(b.shape[0]))))
        return (self.samples1 | {"samples": torch.cat((a, b), dim=0), "batch_index": indices},)


@node(category="latent/advanced", display_name="LatentBatchSeedBehavior", outputs=[Out("LATENT")])
class LatentBatchSeedBehavior(Node):
    """fixed: every latent of the batch gets the first one's noise; random: each its own."""

    samples: Annotated[object, Socket("LATENT")]
    seed_behavior: Literal["random", "fixed"] = "fixed"

    def run(self, ctx):
        out = dict(self.samples)
        if self.seed_behavior == "random":
            out.pop("batch_index", None)
        else:
            out["batch_index"] = [out.get("batch_index", [0])[0]] * self.samples["samples"].shape[0]
        return (out,)


@node(category="latent/advanced", display_name="LatentConcat", outputs=[Out("LATENT")])
class LatentConcat(Node):
    """Join along x, y or t (a leading '-' puts samples2 first); samples2's batch is cycled to match."""

    samples1: Annotated[object, Socket("LATENT")]
    samples2: Annotated[object, Socket("LATENT")]
    dim: Literal["x", "-x", "y", "-y", "t", "-t"]

    def run(self, ctx):
        a = self.samples1["samples"]
        b = repeat_to_batch(self.samples2["samples"], a.shape[0])
        parts = (b, a) if self.dim.startswith("-") else (a, b)
        return (self.samples1 | {"samples": torch.cat(parts, dim=DIMS[self.dim[-1]])},)


@node(category="latent/advanced", display_name="LatentCut", outputs=[Out("LATENT")])
class LatentCut(Node):
    """`amount` latent pixels (or frames) from `index` on along x, y or t; a negative index counts from
    the end."""

    samples: Annotated[object, Socket("LATENT")]
    dim: Literal["x", "y", "t"]
    index: Annotated[int, Widget(step=1)] = Field(0, ge=-MAX_SIZE, le=MAX_SIZE)
    amount: Annotated[int, Widget(step=1)] = Field(1, ge=1, le=MAX_SIZE)

    def run(self, ctx):
        samples = self.samples["samples"]
        dim = samples.ndim + DIMS[self.dim]
        size = samples.shape[dim]
        if self.index >= 0:
            index = min(self.index, size - 1)
            amount = min(size - index, self.amount)
        else:
            index = max(self.index, -size)
            amount = min(-index, self.amount)
        return (self.samples | {"samples": torch.narrow(samples, dim, index, amount)},)


@node(category="latent/advanced/operations", display_name="LatentApplyOperation", outputs=[Out("LATENT")],
      experimental=True)
class LatentApplyOperation(Node):
    """Apply a LATENT_OPERATION to the samples."""

    samples: Annotated[object, Socket("LATENT")]
    operation: Annotated[Any, Socket("LATENT_OPERATION")]

    def run(self, ctx):
        return (self.samples | {"samples": self.operation(latent=self.samples["samples"])},)


def _tonemap(multiplier: float):
    def tonemap_reinhard(latent: torch.Tensor, **kwargs) -> torch.Tensor:
        """Compress channel-vector lengths x -> x / (1 + x), scaled to mean + 5 std of the lengths."""
        magnitude = (torch.linalg.vector_norm(latent, dim=1) + 1e-10)[:, None]
        direction = latent / magnitude
        mean = torch.mean(magnitude, dim=(1, 2, 3), keepdim=True)
        std = torch.std(magnitude, dim=(1, 2, 3), keepdim=True)
        top = (std * 5 + mean) * multiplier
        magnitude = magnitude * (1.0 / top)
        return direction * (magnitude / (magnitude + 1.0) * top)

    return tonemap_reinhard


@node(category="latent/advanced/operations", display_name="LatentOperationTonemapReinhard",
      outputs=[Out("LATENT_OPERATION")], experimental=True)
class LatentOperationTonemapReinhard(Node):
    """An operation compressing large latent values (Reinhard tone mapping of the channel-vector lengths)."""

    multiplier: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=100.0)

    def run(self, ctx):
        return (_tonemap(self.multiplier),)


def _sharpen(radius: int, sigma: float, alpha: float):
    def sharpen(latent: torch.Tensor, **kwargs) -> torch.Tensor:
        """Unsharp-mask the unit channel vectors, then restore their lengths."""
        luminance = (torch.linalg.vector_norm(latent, dim=1) + 1e-6)[:, None]
        kernel = sharpen_kernel(gaussian_kernel(radius * 2 + 1, sigma, device=luminance.device), alpha)
        return luminance * convolve_channels(latent / luminance, kernel, radius)

    return sharpen


@node(category="latent/advanced/operations", display_name="LatentOperationSharpen",
      outputs=[Out("LATENT_OPERATION")], experimental=True)
class LatentOperationSharpen(Node):
    """An operation sharpening the latent's structure (unsharp mask on the normalised latent)."""

    sharpen_radius: Annotated[int, Widget(step=1)] = Field(9, ge=1, le=31)
    sigma: Annotated[float, Widget(step=0.1)] = Field(1.0, ge=0.1, le=10.0)
    alpha: Annotated[float, Widget(step=0.01)] = Field(0.1, ge=0.0, le=5.0)

    def run(self, ctx):
        return (_sharpen(self.sharpen_radius, self.sigma, self.alpha),)
