"""UNet patch nodes (ComfyUI's model_patches/unet group): each clones the MODEL and registers ComfyUI patch
functions on it (block patches, attention patches, cfg hooks), which Loom's UNet and sampler call at
ComfyUI's points, so results match ComfyUI's for the same weights and seed.
"""

import math
from typing import Annotated, Literal

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.latents import resize_latent

ModelIn = Annotated[object, Socket("MODEL")]
Factor = Annotated[float, Widget(step=0.01)]


def fourier_filter(x: torch.Tensor, threshold: int, scale: float) -> torch.Tensor:
    """Scale the lowest frequencies (a (2*threshold)^2 box around DC) of a feature map by `scale`."""
    freq = torch.fft.fftshift(torch.fft.fftn(x.float(), dim=(-2, -1)), dim=(-2, -1))
    h, w = freq.shape[-2:]
    mask = torch.ones(freq.shape, device=x.device)
    mask[..., h // 2 - threshold:h // 2 + threshold, w // 2 - threshold:w // 2 + threshold] = scale
    out = torch.fft.ifftn(torch.fft.ifftshift(freq * mask, dim=(-2, -1)), dim=(-2, -1)).real
    return out.to(x.dtype)


def free_u_patch(model_channels: int, b1: float, b2: float, s1: float, s2: float, adaptive: bool):
    """FreeU's output-block patch: boost half the backbone channels (by b, or V2's b scaled by the
    normalised channel mean) and damp the skip's low frequencies (by s), on the 4x and 2x wide levels."""
    scales = {model_channels * 4: (b1, s1), model_channels * 2: (b2, s2)}

    def patch(h: torch.Tensor, skip: torch.Tensor, transformer_options: dict):
        scale = scales.get(int(h.shape[1]))
        if scale is None:
            return h, skip
        half = h.shape[1] // 2
        boost = scale[0]
        if adaptive:
            mean = h.mean(1, keepdim=True)
            flat = mean.view(mean.shape[0], -1)
            low, high = flat.min(-1).values.view(-1, 1, 1, 1), flat.max(-1).values.view(-1, 1, 1, 1)
            boost = (scale[0] - 1) * ((mean - low) / (high - low)) + 1
        h = torch.cat([h[:, :half] * boost, h[:, half:]], dim=1)
        return h, fourier_filter(skip, 1, scale[1])

    return patch


class FreeUBase(Node):
    """FreeU's inputs; subclasses set the defaults and whether the boost adapts to the features."""

    model: ModelIn
    b1: Factor
    b2: Factor
    s1: Factor
    s2: Factor

    def patched(self, adaptive: bool):
        m = self.model.clone()
        channels = m.model.model_config.unet_config["model_channels"]
        m.set_model_output_block_patch(free_u_patch(channels, self.b1, self.b2, self.s1, self.s2, adaptive))
        return (m,)


@node(category="model_patches/unet", outputs=[Out("MODEL")])
class FreeU(FreeUBase):
    """FreeU (Si et al. 2023): re-weight backbone and skip features in the decoder, for free."""

    b1: Factor = Field(1.1, ge=0.0, le=10.0)
    b2: Factor = Field(1.2, ge=0.0, le=10.0)
    s1: Factor = Field(0.9, ge=0.0, le=10.0)
    s2: Factor = Field(0.2, ge=0.0, le=10.0)

    def run(self, ctx):
        return self.patched(adaptive=False)


@node(category="model_patches/unet", outputs=[Out("MODEL")])
class FreeU_V2(FreeUBase):
    """FreeU v2: the backbone boost follows each sample's normalised mean feature."""

    b1: Factor = Field(1.3, ge=0.0, le=10.0)
    b2: Factor = Field(1.4, ge=0.0, le=10.0)
    s1: Factor = Field(0.9, ge=0.0, le=10.0)
    s2: Factor = Field(0.2, ge=0.0, le=10.0)

    def run(self, ctx):
        return self.patched(adaptive=True)


def random_divisor(value: int, min_value: int, max_options: int = 1) -> int:
    """value // d for one of the first `max_options` divisors d >= min_value (drawn from torch's global RNG,
    ComfyUI's way: the last candidate is never drawn)."""
    divisors = [i for i in range(min(min_value, value), value + 1) if value % i == 0]
    options = [value // d for d in divisors[:max_options]]
    index = torch.randint(low=0, high=len(options) - 1, size=(1,)).item() if len(options) > 1 else 0
    return options[index]


def hyper_tile_patches(tile_size: int, swap_size: int, max_depth: int, scale_depth: bool):
    """(attn1 patch, attn1 output patch): self-attention on the largest levels runs per tile of the image."""
    latent_tile = max(32, tile_size) // 8
    pending = []

    def tile_in(q, k, v, extra_options):
        shape = extra_options["original_shape"]
        levels = [(shape[-2] / 2**i) * (shape[-1] / 2**i) for i in range(max_depth + 1)]
        tokens = q.shape[-2]
        if tokens not in levels:
            return q, k, v
        aspect = shape[-1] / shape[-2]
        h, w = round(math.sqrt(tokens * aspect)), round(math.sqrt(tokens / aspect))
        factor = 2 ** levels.index(tokens) if scale_depth else 1
        nh, nw = random_divisor(h, latent_tile * factor, swap_size), random_divisor(w, latent_tile * factor, swap_size)
        if nh * nw > 1:
            b, c = q.shape[0], q.shape[-1]
            q = q.reshape(b, nh, h // nh, nw, w // nw, c).permute(0, 1, 3, 2, 4, 5).reshape(b * nh * nw, -1, c)
            pending.append((nh, nw, h, w))
        return q, k, v

    def tile_out(out, extra_options):
        if not pending:
            return out
        nh, nw, h, w = pending.pop()
        c = out.shape[-1]
        out = out.reshape(-1, nh, nw, h // nh, w // nw, c).permute(0, 1, 3, 2, 4, 5)
        return out.reshape(out.shape[0], -1, c)

    return tile_in, tile_out


@node(category="model_patches/unet", outputs=[Out("MODEL")])
class HyperTile(Node):
    """HyperTile: self-attention of the highest-resolution levels runs on tiles (faster at large sizes)."""

    model: ModelIn
    tile_size: int = Field(256, ge=1, le=2048)
    swap_size: int = Field(2, ge=1, le=128)
    max_depth: int = Field(0, ge=0, le=10)
    scale_depth: bool = False

    def run(self, ctx):
        m = self.model.clone()
        tile_in, tile_out = hyper_tile_patches(self.tile_size, self.swap_size, self.max_depth, self.scale_depth)
        m.set_model_attn1_patch(tile_in)
        m.set_model_attn1_output_patch(tile_out)
        return (m,)


ResizeMethod = Literal["bicubic", "nearest-exact", "bilinear", "area", "bislerp"]


@node(category="model_patches/unet", display_name="PatchModelAddDownscale (Kohya Deep Shrink)",
      outputs=[Out("MODEL")])
class PatchModelAddDownscale(Node):
    """Kohya's Deep Shrink: shrink the features after one input block during the early steps, so large
    images keep a coherent composition; the decoder scales them back up to the skip's size."""

    model: ModelIn
    block_number: Annotated[int, Widget(step=1)] = Field(3, ge=1, le=32)
    downscale_factor: Annotated[float, Widget(step=0.001)] = Field(2.0, ge=0.1, le=9.0)
    start_percent: Annotated[float, Widget(step=0.001)] = Field(0.0, ge=0.0, le=1.0)
    end_percent: Annotated[float, Widget(step=0.001)] = Field(0.35, ge=0.0, le=1.0)
    downscale_after_skip: bool = True
    downscale_method: ResizeMethod
    upscale_method: ResizeMethod

    def run(self, ctx):
        ms = self.model.get_model_object("model_sampling")
        sigma_start, sigma_end = ms.percent_to_sigma(self.start_percent), ms.percent_to_sigma(self.end_percent)
        block, factor, down, up = self.block_number, self.downscale_factor, self.downscale_method, self.upscale_method

        def shrink(h, transformer_options):
            if transformer_options["block"][1] == block:
                sigma = transformer_options["sigmas"][0].item()
                if sigma_end <= sigma <= sigma_start:
                    h = resize_latent(h, round(h.shape[-1] / factor), round(h.shape[-2] / factor), down)
            return h

        def grow(h, skip, transformer_options):
            if h.shape[2] != skip.shape[2]:
                h = resize_latent(h, skip.shape[-1], skip.shape[-2], up)
            return h, skip

        m = self.model.clone()
        if self.downscale_after_skip:
            m.set_model_input_block_patch_after_skip(shrink)
        else:
            m.set_model_input_block_patch(shrink)
        m.set_model_output_block_patch(grow)
        return (m,)


@node(name="Epsilon Scaling", category="model_patches/unet", outputs=[Out("MODEL")])
class EpsilonScaling(Node):
    """Epsilon Scaling (Ning et al. 2023): divide the guided noise prediction by a factor each step, against
    exposure bias."""

    model: ModelIn
    scaling_factor: Annotated[float, Widget(step=0.001, display="number")] = Field(1.005, ge=0.5, le=1.5)

    def run(self, ctx):
        factor = self.scaling_factor or 1e-9

        def rescale(args):
            x = args["input"]
            return x - (x - args["denoised"]) / factor

        m = self.model.clone()
        m.set_model_sampler_post_cfg_function(rescale)
        return (m,)


def frequency_scale(x: torch.Tensor, scale_low: float, scale_high: float, freq_cutoff: int) -> torch.Tensor:
    """Scale the frequencies of x: those within freq_cutoff of DC (per spatial axis) by scale_low, the rest
    by scale_high."""
    freq = torch.fft.fftshift(torch.fft.fftn(x.float(), dim=(-2, -1)), dim=(-2, -1))
    mask = torch.full(freq.shape, scale_high, device=x.device)
    centre = mask
    for dim in range(2, freq.ndim):
        middle = freq.shape[dim] // 2
        cut = min(freq_cutoff, middle)
        centre = centre.narrow(dim, middle - cut, cut * 2)
    centre[:] = scale_low
    out = torch.fft.ifftn(torch.fft.ifftshift(freq * mask, dim=(-2, -1)), dim=(-2, -1)).real
    return out.to(x.dtype)


@node(category="_for_testing", display_name="FreSca", outputs=[Out("MODEL")], experimental=True)
class FreSca(Node):
    """FreSca: scale the low and high spatial frequencies of the guidance difference separately."""

    model: ModelIn
    scale_low: Factor = Field(1.0, ge=0, le=10)
    scale_high: Factor = Field(1.25, ge=0, le=10)
    freq_cutoff: Annotated[int, Widget(step=1)] = Field(20, ge=1, le=10000)

    def run(self, ctx):
        low, high, cutoff = self.scale_low, self.scale_high, self.freq_cutoff

        def scale_guidance(args):
            outs = args["conds_out"]
            if len(outs) <= 1 or None in args["conds"][:2]:
                return outs
            cond, uncond = outs[0], outs[1]
            return [frequency_scale(cond - uncond, low, high, cutoff) + uncond, uncond, *outs[2:]]

        m = self.model.clone()
        m.set_model_sampler_pre_cfg_function(scale_guidance)
        return (m,)
