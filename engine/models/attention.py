"""Multi-head attention as one function with a backend chosen once for the process.

Backends: torch scaled_dot_product_attention ("sdpa", the default), xformers ("xformers", picked
automatically when installed and CUDA is available) and "sliced", which computes the attention
matrix a few query rows at a time to bound peak memory (also the fallback when SDPA runs out).
"""

from __future__ import annotations

import importlib.util
import math

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "sdpa", "xformers", "sliced")

# Upper bound for one chunk of the attention matrix in the sliced backend.
SLICE_BYTES = 1 << 28

_chosen: str | None = None


def _xformers_usable() -> bool:
    return torch.cuda.is_available() and importlib.util.find_spec("xformers") is not None


def set_attention_backend(name: str) -> str:
    """Choose the attention backend ("auto", "sdpa", "xformers", "sliced"); returns the one in use."""
    global _chosen
    if name not in BACKENDS:
        raise ValueError(f"attention backend {name!r} is unknown; expected one of {', '.join(BACKENDS)}")
    if name == "xformers" and not _xformers_usable():
        raise ValueError("attention backend 'xformers' needs the xformers package and a CUDA device")
    if name == "auto":
        name = "xformers" if _xformers_usable() else "sdpa"
    _chosen = name
    return name


def attention_backend() -> str:
    """The backend in use, resolving "auto" on first call."""
    return _chosen if _chosen is not None else set_attention_backend("auto")


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Softmax attention over [B, N, heads*dim] inputs; returns [B, Nq, heads*dim].

    Keys and values are regrouped to q's batch size like ComfyUI's attention does (a patch that tiles q
    into more, shorter sequences, e.g. HyperTile, gets k and v cut into as many consecutive chunks)."""
    b, nq, inner = q.shape
    dim = inner // heads
    backend = attention_backend()
    if backend == "xformers" and q.is_cuda:
        import xformers.ops

        split = (lambda t: t.reshape(b, -1, heads, dim))
        out = xformers.ops.memory_efficient_attention(split(q), split(k), split(v))
        return out.reshape(b, nq, inner)
    qh, kh, vh = (t.reshape(b, -1, heads, dim).transpose(1, 2) for t in (q, k, v))
    if backend == "sliced":
        out = sliced_attention(qh, kh, vh)
    else:
        try:
            out = F.scaled_dot_product_attention(qh, kh, vh)
        except torch.OutOfMemoryError:
            out = sliced_attention(qh, kh, vh)
    return out.transpose(1, 2).reshape(b, nq, inner)


def sliced_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Attention over [B, H, N, D] tensors, computed in query chunks of at most SLICE_BYTES scores."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    row_bytes = q.shape[0] * q.shape[1] * k.shape[2] * 4
    rows = max(1, SLICE_BYTES // row_bytes)
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=v.dtype, device=v.device)
    keys_t = k.float().transpose(-1, -2)
    for start in range(0, q.shape[2], rows):
        scores = torch.matmul(q[:, :, start : start + rows].float(), keys_t) * scale
        out[:, :, start : start + rows] = torch.matmul(scores.softmax(-1).to(v.dtype), v)
    return out
