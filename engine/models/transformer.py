"""The UNet's spatial transformer (LDM key layout): self- and cross-attention blocks over image tokens.

Attribute names (norm1, attn1.to_q, ff.net.0.proj, proj_in ...) are the single-file checkpoint's,
so state dicts load without renaming.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.attention import attention
from engine.models.attention_patches import block_options, patched_block_forward


class CrossAttention(nn.Module):
    """Multi-head attention; keys/values come from `context` (cross) or from `x` itself (self)."""

    def __init__(self, query_dim: int, heads: int, dim_head: int, context_dim: int | None = None):
        super().__init__()
        inner = heads * dim_head
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim or query_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim or query_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                value: torch.Tensor | None = None) -> torch.Tensor:
        """Keys from `context` (default x), values from `value` (default the keys' source)."""
        source = x if context is None else context
        out = attention(self.to_q(x), self.to_k(source), self.to_v(source if value is None else value), self.heads)
        return self.to_out(out)


class GEGLU(nn.Module):
    """Gated GELU: one projection to twice the width, half of it gating the other half."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return F.gelu(gate).mul_(value)  # in place into gelu's fresh result: one allocation less


class FeedForward(nn.Module):
    """GEGLU feed-forward with a 4x hidden width (keys ff.net.0.proj / ff.net.2)."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class BasicTransformerBlock(nn.Module):
    """Pre-norm self-attention, cross-attention and feed-forward, each with a residual."""

    def __init__(self, dim: int, heads: int, dim_head: int, context_dim: int | None):
        super().__init__()
        self.attn1 = CrossAttention(dim, heads, dim_head)
        self.ff = FeedForward(dim)
        self.attn2 = CrossAttention(dim, heads, dim_head, context_dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None,
                transformer_options: dict | None = None) -> torch.Tensor:
        """`transformer_options` with "patches" / "patches_replace" (ComfyUI model patches) routes through
        engine.models.attention_patches; without them this is the plain block."""
        if transformer_options and ("patches" in transformer_options or "patches_replace" in transformer_options):
            return patched_block_forward(self, x, context, transformer_options)
        x = x + self.attn1(self.norm1(x))
        x = x + self.attn2(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class SpatialTransformer(nn.Module):
    """Group norm, projection to tokens (1x1 conv for SD1, linear for SD2/SDXL), transformer blocks, back.

    `transformer_options` (the UNet's per-call options) reaches every block with its "block_index", and
    subclasses such as the video transformer.
    """

    def __init__(
        self,
        channels: int,
        heads: int,
        dim_head: int,
        depth: int,
        context_dim: int | None,
        use_linear: bool,
    ):
        super().__init__()
        inner = heads * dim_head
        self.use_linear = use_linear
        self.norm = nn.GroupNorm(32, channels, eps=1e-6)
        if use_linear:
            self.proj_in = nn.Linear(channels, inner)
            self.proj_out = nn.Linear(inner, channels)
        else:
            self.proj_in = nn.Conv2d(channels, inner, 1)
            self.proj_out = nn.Conv2d(inner, channels, 1)
        self.transformer_blocks = nn.ModuleList(
            BasicTransformerBlock(inner, heads, dim_head, context_dim) for _ in range(depth)
        )

    def to_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map [B, C, h, w] -> normalised, projected tokens [B, h*w, inner]."""
        x = self.norm(x)
        if not self.use_linear:
            x = self.proj_in(x)
        # Token-major memory once here, so the blocks' norms and residual adds run on contiguous tokens.
        x = x.flatten(2).transpose(1, 2).contiguous()
        return self.proj_in(x) if self.use_linear else x

    def from_tokens(self, tokens: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """Tokens back to a feature map shaped like `residual` (the block's input), plus that residual."""
        if self.use_linear:
            tokens = self.proj_out(tokens)
        b, _, h, w = residual.shape
        x = tokens.transpose(1, 2).reshape(b, -1, h, w)
        if not self.use_linear:
            x = self.proj_out(x.contiguous())  # the conv sums in its NCHW order, as ComfyUI feeds it
        return x + residual

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, transformer_options: dict | None = None
    ) -> torch.Tensor:
        if transformer_options is not None:
            transformer_options["activations_shape"] = list(x.shape)
        tokens = self.to_tokens(x)
        for index, block in enumerate(self.transformer_blocks):
            tokens = block(tokens, context, block_options(transformer_options, index))
        return self.from_tokens(tokens, x)
