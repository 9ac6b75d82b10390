"""TomePatchModel: token merging (Bolya & Hoffman, "Token Merging for Fast Stable Diffusion", 2023) on the
self-attention queries of the full-resolution transformer blocks: the most similar tokens are averaged
before attention and copied back after, so attention runs on fewer queries.

Tokens are split per 2x2 cell into one destination (drawn from torch's global RNG, as ComfyUI does) and
three sources; the `ratio` share of sources most similar (cosine) to some destination merge into it.
"""

from collections.abc import Callable
from typing import Annotated

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node

STRIDE = 2  # destination cells are 2x2 tokens


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _partition(h: int, w: int, device) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(source indices, destination indices, destination count) over h*w tokens in raster order."""
    cells_h, cells_w = h // STRIDE, w // STRIDE
    pick = torch.randint(STRIDE * STRIDE, size=(cells_h, cells_w, 1), device=device)
    marks = torch.zeros(cells_h, cells_w, STRIDE * STRIDE, device=device, dtype=torch.int64)
    marks.scatter_(dim=2, index=pick, src=-torch.ones_like(pick))
    marks = marks.view(cells_h, cells_w, STRIDE, STRIDE).transpose(1, 2).reshape(cells_h * STRIDE, cells_w * STRIDE)
    if cells_h * STRIDE < h or cells_w * STRIDE < w:
        full = torch.zeros(h, w, device=device, dtype=torch.int64)
        full[:cells_h * STRIDE, :cells_w * STRIDE] = marks
        marks = full
    order = marks.reshape(1, -1, 1).argsort(dim=1)  # destinations (-1) first, then sources
    count = cells_h * cells_w
    return order[:, count:, :], order[:, :count, :], count


def merge_functions(metric: torch.Tensor, w: int, h: int, r: int) -> tuple[Callable, Callable]:
    """(merge, unmerge) that fold r source tokens of [B, N, C] into their most similar destinations."""
    batch, tokens, _ = metric.shape
    if r <= 0 or w == 1 or h == 1:
        return _identity, _identity
    with torch.no_grad():
        src_ids, dst_ids, dst_count = _partition(h, w, metric.device)

        def split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            c = x.shape[-1]
            return (torch.gather(x, 1, src_ids.expand(batch, tokens - dst_count, c)),
                    torch.gather(x, 1, dst_ids.expand(batch, dst_count, c)))

        src, dst = split(metric / metric.norm(dim=-1, keepdim=True))
        r = min(src.shape[1], r)
        best, best_dst = (src @ dst.transpose(-1, -2)).max(dim=-1)
        ranked = best.argsort(dim=-1, descending=True)[..., None]
        kept, merged = ranked[..., r:, :], ranked[..., :r, :]
        target = torch.gather(best_dst[..., None], dim=-2, index=merged)

    def merge(x: torch.Tensor) -> torch.Tensor:
        src, dst = split(x)
        n, count, c = src.shape
        stay = torch.gather(src, -2, kept.expand(n, count - r, c))
        moving = torch.gather(src, -2, merged.expand(n, r, c))
        return torch.cat([stay, dst.scatter_reduce(-2, target.expand(n, r, c), moving, reduce="mean")], dim=1)

    def unmerge(x: torch.Tensor) -> torch.Tensor:
        stay_count = kept.shape[1]
        stay, dst = x[..., :stay_count, :], x[..., stay_count:, :]
        c = stay.shape[-1]
        out = torch.zeros(batch, tokens, c, device=x.device, dtype=x.dtype)
        out.scatter_(-2, dst_ids.expand(batch, dst_count, c), dst)
        src_positions = src_ids.expand(batch, src_ids.shape[1], 1)
        out.scatter_(-2, torch.gather(src_positions, 1, kept).expand(batch, stay_count, c), stay)
        moved = torch.gather(dst, -2, target.expand(batch, r, c))
        out.scatter_(-2, torch.gather(src_positions, 1, merged).expand(batch, r, c), moved)
        return out

    return merge, unmerge


def functions_for(x: torch.Tensor, ratio: float, original_shape) -> tuple[Callable, Callable]:
    """Merging for tokens at the latent's full resolution; other levels are left alone."""
    _, _, height, width = original_shape
    if height * width // x.shape[1] > 1:
        return _identity, _identity
    return merge_functions(x, width, height, int(x.shape[1] * ratio))


@node(category="model_patches/unet", outputs=[Out("MODEL")])
class TomePatchModel(Node):
    """Merge the most similar `ratio` of tokens before full-resolution self-attention (faster, slightly
    different images)."""

    model: Annotated[object, Socket("MODEL")]
    ratio: Annotated[float, Widget(step=0.01)] = Field(0.3, ge=0.0, le=1.0)

    def run(self, ctx):
        ratio, pending = self.ratio, []

        def merge_queries(q, k, v, extra_options):
            merge, unmerge = functions_for(q, ratio, extra_options["original_shape"])
            pending.append(unmerge)
            return merge(q), k, v

        def unmerge_output(n, extra_options):
            return pending.pop()(n)

        m = self.model.clone()
        m.set_model_attn1_patch(merge_queries)
        m.set_model_attn1_output_patch(unmerge_output)
        return (m,)
