"""Guidance from a second, deliberately degraded UNet pass (ComfyUI's PerturbedAttentionGuidance and
SelfAttentionGuidance): a post-CFG hook re-runs the network with a patched self-attention in the middle
block and pushes the result away from that degraded prediction.
"""

import math
from typing import Annotated

import torch
import torch.nn.functional as F
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.models.attention import attention
from engine.sampling.cfg import calc_cond_batch
from engine.values.model_patcher import set_model_options_patch_replace

ModelIn = Annotated[object, Socket("MODEL")]


def identity_attention(q, k, v, extra_options, mask=None):
    """PAG's perturbed self-attention: every token attends only to itself (the output is v)."""
    return v


@node(category="model_patches/unet", outputs=[Out("MODEL")])
class PerturbedAttentionGuidance(Node):
    """Perturbed-Attention Guidance (Ahn et al. 2024): guide away from a pass whose middle-block
    self-attention is replaced by identity."""

    model: ModelIn
    scale: Annotated[float, Widget(step=0.01, round=0.01)] = Field(3.0, ge=0.0, le=100.0)

    def run(self, ctx):
        scale = self.scale

        def guide(args):
            denoised = args["denoised"]
            if scale == 0:
                return denoised
            options = set_model_options_patch_replace(dict(args["model_options"]), identity_attention, "attn1",
                                                      "middle", 0)
            (perturbed,) = calc_cond_batch(args["model"], [args["cond"]], args["input"], args["sigma"], options)
            return denoised + (args["cond_denoised"] - perturbed) * scale

        m = self.model.clone()
        m.set_model_sampler_post_cfg_function(guide)
        return (m,)


def attention_with_scores(q, k, v, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax attention over [B, N, heads*dim] that also returns the scores [B*heads, Nq, Nk]."""
    b, _, inner = q.shape
    dim = inner // heads
    qh, kh, vh = (t.reshape(b, -1, heads, dim).permute(0, 2, 1, 3).reshape(b * heads, -1, dim) for t in (q, k, v))
    scores = (torch.einsum("bid,bjd->bij", qh, kh) * dim**-0.5).softmax(dim=-1)
    out = torch.einsum("bij,bjd->bid", scores.to(v.dtype), vh)
    return out.reshape(b, heads, -1, dim).permute(0, 2, 1, 3).reshape(b, -1, inner), scores


def gaussian_blur(x: torch.Tensor, kernel_size: int, sigma: float) -> torch.Tensor:
    """Separable-kernel Gaussian blur of [B, C, H, W] with reflected borders."""
    half = (kernel_size - 1) * 0.5
    pdf = torch.exp(-0.5 * (torch.linspace(-half, half, steps=kernel_size) / sigma).pow(2))
    line = (pdf / pdf.sum()).to(x.device, x.dtype)
    kernel = torch.mm(line[:, None], line[None, :]).expand(x.shape[-3], 1, kernel_size, kernel_size)
    pad = kernel_size // 2
    return F.conv2d(F.pad(x, [pad] * 4, mode="reflect"), kernel, groups=x.shape[-3])


def blurred_where_attended(x0: torch.Tensor, scores: torch.Tensor, sigma: float, threshold: float = 1.0):
    """x0 blurred where the middle block's self-attention concentrates (SAG's degraded estimate)."""
    b, _, lh, lw = x0.shape
    hw1, hw2 = scores.shape[-2:]
    mask = scores.reshape(b, -1, hw1, hw2).mean(1).sum(1) > threshold
    total = mask.shape[-1]
    rows, guess = None, round(math.sqrt((lh / lw) * total))
    for i in range(math.floor(math.sqrt(total) / 2)):
        rows = next((j for j in (guess + i, max(1, guess - i)) if total % j == 0), None)
        if rows is not None:
            break
    mask = F.interpolate(mask.reshape(b, rows, total // rows).unsqueeze(1).to(scores.dtype), (lh, lw))
    return gaussian_blur(x0, 9, sigma) * mask + x0 * (1 - mask)


@node(category="_for_testing", display_name="Self-Attention Guidance", outputs=[Out("MODEL")], experimental=True)
class SelfAttentionGuidance(Node):
    """Self-Attention Guidance (Hong et al. 2023): guide away from a pass on the prediction blurred where the
    negative pass's middle-block self-attention looks."""

    model: ModelIn
    scale: Annotated[float, Widget(step=0.01)] = Field(0.5, ge=-2.0, le=5.0)
    blur_sigma: Annotated[float, Widget(step=0.1)] = Field(2.0, ge=0.0, le=10.0)

    def run(self, ctx):
        scale, blur_sigma = self.scale, self.blur_sigma
        recorded = {}

        def attend_and_record(q, k, v, extra_options):
            heads, sides = extra_options["n_heads"], extra_options["cond_or_uncond"]
            if 1 not in sides:
                return attention(q, k, v, heads)
            out, scores = attention_with_scores(q, k, v, heads)
            per_side = heads * (q.shape[0] // len(sides))
            at = sides.index(1)
            recorded["scores"] = scores[per_side * at:per_side * (at + 1)]
            return out

        def guide(args):
            denoised, x = args["denoised"], args["input"]
            if min(denoised.shape[2:]) <= 4 or "scores" not in recorded:
                return denoised
            degraded = blurred_where_attended(args["uncond_denoised"], recorded["scores"], blur_sigma)
            (sag,) = calc_cond_batch(args["model"], [args["uncond"]], degraded + x - args["uncond_denoised"],
                                     args["sigma"], args["model_options"])
            return denoised + (degraded - sag) * scale

        m = self.model.clone()
        m.set_model_sampler_post_cfg_function(guide, disable_cfg1_optimization=True)
        m.set_model_attn1_replace(attend_and_record, "middle", 0, 0)
        return (m,)
