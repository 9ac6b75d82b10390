"""GLIGEN: boxes with phrases steer where things appear. A position net turns (phrase embedding, box) pairs
into grounding tokens; a gated self-attention "fuser" per UNet transformer mixes them into the image tokens
between self- and cross-attention (ComfyUI's "middle_patch" point).

The state-dict layout is the released GLIGEN files': `position_net.*` and one `...fuser.*` group per
UNet block (input_blocks.N / middle_block.N / output_blocks.N), in that order, so fuser k serves the k-th
transformer the UNet runs (transformer_options["transformer_index"]).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import torch
from torch import nn

from engine.memory_tiers import compute_dtype
from engine.models.transformer import CrossAttention, FeedForward

MAX_OBJECTS = 30  # boxes per prompt; the position net always sees this many (padded with null tokens)
FOURIER_FREQS = 8
POSITION_HIDDEN = 512
NULL_FEATURE_KEY = "position_net.null_positive_feature"  # every GLIGEN file has it
_FUSER_KEY = re.compile(r"(input_blocks|middle_block|output_blocks)\.(\d+)\..*\.fuser\.(.+)$")
_SECTIONS = ("input_blocks", "middle_block", "output_blocks")


class GatedSelfAttention(nn.Module):
    """Self-attention over image tokens joined by the projected grounding tokens, added back through
    tanh gates (alpha_attn, alpha_dense) that are zero in an untrained fuser."""

    def __init__(self, query_dim: int, key_dim: int, heads: int, dim_head: int):
        super().__init__()
        self.linear = nn.Linear(key_dim, query_dim)
        self.attn = CrossAttention(query_dim, heads, dim_head)
        self.ff = FeedForward(query_dim)
        self.norm1 = nn.LayerNorm(query_dim)
        self.norm2 = nn.LayerNorm(query_dim)
        self.alpha_attn = nn.Parameter(torch.tensor(0.0))
        self.alpha_dense = nn.Parameter(torch.tensor(0.0))

    def forward(self, x: torch.Tensor, objs: torch.Tensor) -> torch.Tensor:
        visual = x.shape[1]
        joined = self.norm1(torch.cat([x, self.linear(objs)], dim=1))
        x = x + torch.tanh(self.alpha_attn) * self.attn(joined)[:, :visual]
        return x + torch.tanh(self.alpha_dense) * self.ff(self.norm2(x))


def fourier_embed(boxes: torch.Tensor, freqs: int = FOURIER_FREQS, temperature: float = 100.0) -> torch.Tensor:
    """sin and cos of each coordinate at `freqs` frequencies, grouped per frequency: [..., freqs * 2 * 4]."""
    bands = temperature ** (torch.arange(freqs) / freqs)
    return torch.cat([f(band * boxes) for band in bands.tolist() for f in (torch.sin, torch.cos)], dim=-1)


class PositionNet(nn.Module):
    """(phrase embedding, box) -> grounding token; padding slots get the learnt null embeddings."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        position_dim = FOURIER_FREQS * 2 * 4
        self.linears = nn.Sequential(
            nn.Linear(in_dim + position_dim, POSITION_HIDDEN), nn.SiLU(),
            nn.Linear(POSITION_HIDDEN, POSITION_HIDDEN), nn.SiLU(),
            nn.Linear(POSITION_HIDDEN, out_dim))
        self.null_positive_feature = nn.Parameter(torch.zeros(in_dim))
        self.null_position_feature = nn.Parameter(torch.zeros(position_dim))

    def forward(self, boxes: torch.Tensor, masks: torch.Tensor, phrases: torch.Tensor) -> torch.Tensor:
        masks = masks[..., None]
        null_phrase = self.null_positive_feature.to(boxes).view(1, 1, -1)
        null_box = self.null_position_feature.to(boxes).view(1, 1, -1)
        phrases = phrases * masks + (1 - masks) * null_phrase
        positions = fourier_embed(boxes) * masks + (1 - masks) * null_box
        return self.linears(torch.cat([phrases, positions], dim=-1))


MiddlePatch = Callable[[torch.Tensor, dict], torch.Tensor]


class Gligen(nn.Module):
    """The GLIGEN model: its position net and its fusers, in UNet transformer order."""

    def __init__(self, fusers: list[GatedSelfAttention], position_net: PositionNet):
        super().__init__()
        self.module_list = nn.ModuleList(fusers)
        self.position_net = position_net
        self.phrase_dim = position_net.null_positive_feature.shape[0]

    def _patch(self, boxes: torch.Tensor, masks: torch.Tensor, phrases: torch.Tensor) -> MiddlePatch:
        device, dtype = self.position_net.linears[0].weight.device, compute_dtype(self)
        with torch.no_grad():
            objs = self.position_net(*(t.to(device, dtype) for t in (boxes, masks, phrases)))

        def middle_patch(x: torch.Tensor, extra_options: dict) -> torch.Tensor:
            fuser = self.module_list[extra_options["transformer_index"]]
            dtype = compute_dtype(self)
            return fuser(x.to(dtype), objs.to(x.device, dtype)).to(x.dtype)
        return middle_patch

    def set_position(self, latent_shape, position_params: list, device) -> MiddlePatch:
        """The middle patch for boxes `position_params`: (phrase embedding [1, D], h, w, y, x) in latent
        pixels, relative to a latent of `latent_shape` on `device` (where the model manager placed this)."""
        batch, _, height, width = latent_shape
        if len(position_params) > MAX_OBJECTS:
            raise ValueError(f"GLIGEN: {len(position_params)} boxes on one prompt; at most {MAX_OBJECTS} are supported")
        boxes = torch.zeros(MAX_OBJECTS, 4)
        masks = torch.zeros(MAX_OBJECTS)
        phrases = torch.zeros(MAX_OBJECTS, self.phrase_dim)
        for i, (phrase, h, w, y, x) in enumerate(position_params):
            boxes[i] = torch.tensor((x / width, y / height, (x + w) / width, (y + h) / height))
            masks[i] = 1.0
            phrases[i] = phrase.reshape(-1).float()
        return self._patch(*(t[None].repeat(batch, *[1] * t.ndim).to(device) for t in (boxes, masks, phrases)))

    def set_empty(self, latent_shape, device) -> MiddlePatch:
        """The middle patch with no boxes: every slot the null token."""
        batch = latent_shape[0]
        return self._patch(torch.zeros(batch, MAX_OBJECTS, 4, device=device),
                           torch.zeros(batch, MAX_OBJECTS, device=device),
                           torch.zeros(batch, MAX_OBJECTS, self.phrase_dim, device=device))


def _fuser_groups(state_dict: Mapping[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """The fuser weights per UNet block, input blocks first, then middle, then output blocks."""
    groups: dict[tuple[int, int], dict[str, torch.Tensor]] = {}
    for key in state_dict:
        found = _FUSER_KEY.search(key)
        if found:
            section, number, name = found.groups()
            groups.setdefault((_SECTIONS.index(section), int(number)), {})[name] = state_dict[key]
    return [groups[k] for k in sorted(groups)]


def load_gligen(state_dict: Mapping[str, torch.Tensor], what: str = "GLIGEN file") -> Gligen:
    """Build a Gligen from a GLIGEN state dict; sizes (and heads: 8 for 768-wide grounding tokens, else
    64-wide heads, as the released SD1.x / SD2.x files use) come from the weights. The file's tensors become
    the parameters (assigned, not copied), so a memory-mapped fp16 file stays mapped and in fp16."""
    if NULL_FEATURE_KEY not in state_dict:
        raise ValueError(f"{what} is not a GLIGEN model: it has no {NULL_FEATURE_KEY}")
    fusers = []
    for weights in _fuser_groups(state_dict):
        query_dim, key_dim = weights["linear.weight"].shape
        heads = 8 if key_dim == 768 else query_dim // 64
        fuser = GatedSelfAttention(query_dim, key_dim, heads, query_dim // heads)
        fuser.load_state_dict(weights, strict=False, assign=True)
        fusers.append(fuser)
    position_net = PositionNet(state_dict[NULL_FEATURE_KEY].shape[0],
                               state_dict["position_net.linears.4.weight"].shape[0])
    position_net.load_state_dict({k[len("position_net."):]: v for k, v in state_dict.items()
                                  if k.startswith("position_net.")}, assign=True)
    return Gligen(fusers, position_net).eval()
