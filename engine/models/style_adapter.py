"""The T2I style adapter (t2iadapter_style_sd14v1): a small transformer that turns a CLIP image encoder's
hidden states into extra prompt tokens (num_token x context_dim) appended to the text conditioning.

Layout as the released file: `style_embedding` [1, tokens, width], `ln_pre`, `transformer_layes.N`
(OpenCLIP residual attention blocks: fused in_proj, QuickGELU MLP), `ln_post`, `proj` [width, context].
Sizes come from the weights; the head count is 8, as in the released adapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

HEADS = 8


@dataclass(frozen=True)
class StyleAdapterConfig:
    width: int
    context_dim: int
    layers: int
    tokens: int


def infer_style_config(shapes: Mapping[str, tuple[int, ...]]) -> StyleAdapterConfig:
    _, tokens, width = shapes["style_embedding"]
    layers = len({m[1] for k in shapes if (m := re.match(r"transformer_layes\.(\d+)\.", k))})
    return StyleAdapterConfig(width=width, context_dim=shapes["proj"][1], layers=layers, tokens=tokens)


class _Float32LayerNorm(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).to(x.dtype)


class _Block(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(width, HEADS)
        self.ln_1, self.ln_2 = _Float32LayerNorm(width), _Float32LayerNorm(width)
        self.mlp = nn.Sequential()
        self.mlp.add_module("c_fc", nn.Linear(width, width * 4))
        self.mlp.add_module("c_proj", nn.Linear(width * 4, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        h = self.mlp.c_fc(self.ln_2(x))
        return x + self.mlp.c_proj(h * torch.sigmoid(1.702 * h))


class StyleAdapter(nn.Module):
    """Image hidden states [N, L, width] -> style tokens [N, tokens, context_dim]."""

    def __init__(self, config: StyleAdapterConfig):
        super().__init__()
        self.config = config
        self.transformer_layes = nn.Sequential(*[_Block(config.width) for _ in range(config.layers)])
        self.style_embedding = nn.Parameter(torch.zeros(1, config.tokens, config.width))
        self.ln_pre, self.ln_post = _Float32LayerNorm(config.width), _Float32LayerNorm(config.width)
        self.proj = nn.Parameter(torch.zeros(config.width, config.context_dim))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        style = self.style_embedding.expand(hidden.shape[0], -1, -1).to(hidden.dtype)
        x = self.ln_pre(torch.cat([hidden, style], dim=1))
        x = self.transformer_layes(x.permute(1, 0, 2)).permute(1, 0, 2)
        return self.ln_post(x[:, -self.config.tokens:, :]) @ self.proj
