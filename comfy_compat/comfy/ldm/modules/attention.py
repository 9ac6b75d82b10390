"""ComfyUI's `comfy.ldm.modules.attention`: optimized_attention (Loom's engine.models.attention, with
ComfyUI's mask and layout options) and the transformer classes, which are Loom's engine.models.transformer
classes (so isinstance checks and attribute patches by packs reach Loom's UNet)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from engine.models.attention import attention
from engine.models.transformer import (
    GEGLU,
    BasicTransformerBlock,
    CrossAttention,
    FeedForward,
    SpatialTransformer,
)
from engine.models.video_unet import SpatialVideoTransformer

__all__ = ["GEGLU", "BasicTransformerBlock", "CrossAttention", "FeedForward", "SpatialTransformer",
           "SpatialVideoTransformer", "attention_basic", "attention_pytorch", "attention_split",
           "attention_sub_quad", "default", "exists", "optimized_attention", "optimized_attention_masked"]


def exists(value: Any) -> bool:
    return value is not None


def default(value: Any, fallback: Any) -> Any:
    return value if value is not None else fallback


def optimized_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: Any = None,
                        attn_precision: Any = None, skip_reshape: bool = False,
                        skip_output_reshape: bool = False) -> torch.Tensor:
    """Softmax attention over [B, N, heads*dim] (or [B, heads, N, dim] with skip_reshape) inputs."""
    if mask is None and not skip_reshape and not skip_output_reshape:
        return attention(q, k, v, heads)
    if skip_reshape:
        b, _, nq, dim = q.shape
        qh, kh, vh = q, k, v
    else:
        b, nq, inner = q.shape
        dim = inner // heads
        qh, kh, vh = (t.reshape(b, t.shape[1], heads, dim).transpose(1, 2) for t in (q, k, v))
    if mask is not None:
        mask = mask.unsqueeze(0) if mask.ndim == 2 else mask
        mask = mask.unsqueeze(1) if mask.ndim == 3 else mask
        mask = mask.to(qh.dtype) if mask.dtype != torch.bool else mask
    out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
    return out if skip_output_reshape else out.transpose(1, 2).reshape(b, nq, heads * dim)


optimized_attention_masked = optimized_attention
attention_basic = attention_pytorch = attention_split = attention_sub_quad = optimized_attention
