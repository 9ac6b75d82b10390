"""PhotoMaker's ID encoder: a CLIP ViT-L image tower whose pooled output, projected twice and joined, is
fused into the prompt embedding of the class word ("man" in "a man photomaker"), so the prompt carries
the identity of the person in the picture.

State-dict layout of the released photomaker-v1 files (optionally under "id_encoder"): the HF CLIP vision
keys (vision_model.*, visual_projection.weight), visual_projection_2.weight and fuse_module.{mlp1,mlp2,
layer_norm}.*; every size comes from the weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from torch import nn

from engine.memory_tiers import compute_dtype
from engine.models.clip_vision import ClipVision, clip_preprocess, load_clip_vision

IMAGE_SIZE = 224  # PhotoMaker preprocesses at CLIP ViT-L's size whatever its position table says


class _MLP(nn.Module):
    """LayerNorm -> Linear -> GELU -> Linear, optionally added to its input."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int, residual: bool):
        super().__init__()
        self.layernorm = nn.LayerNorm(in_dim)
        self.fc1 = nn.Linear(in_dim, hidden)
        self.fc2 = nn.Linear(hidden, out_dim)
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.fc2(nn.functional.gelu(self.fc1(self.layernorm(x))))
        return out + x if self.residual else out


class FuseModule(nn.Module):
    """Class-word embedding + ID embedding -> the class word's new embedding."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp1 = _MLP(2 * dim, dim, dim, residual=False)
        self.mlp2 = _MLP(dim, dim, dim, residual=True)
        self.layer_norm = nn.LayerNorm(dim)

    def forward(self, word: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        fused = self.mlp1(torch.cat([word, identity], dim=-1)) + word
        return self.layer_norm(self.mlp2(fused))


class PhotoMakerIDEncoder(nn.Module):
    """The image tower, its second projection and the fuse module."""

    def __init__(self, vision: ClipVision, projection_2: nn.Linear, fuse: FuseModule):
        super().__init__()
        self.vision_tower = vision.model
        self.vision = vision
        self.visual_projection_2 = projection_2
        self.fuse_module = fuse

    @torch.no_grad()
    def identity(self, image: torch.Tensor) -> torch.Tensor:
        """IMAGE [B,H,W,C] -> the first picture's ID embedding [1, projection + projection_2]."""
        weight = self.visual_projection_2.weight
        pixels = clip_preprocess(image[:1].to(weight.device), IMAGE_SIZE).to(compute_dtype(self))
        pooled = self.vision_tower.vision_model(pixel_values=pixels).pooler_output
        return torch.cat([self.vision_tower.visual_projection(pooled), self.visual_projection_2(pooled)], dim=-1)

    @torch.no_grad()
    def fuse(self, prompt: torch.Tensor, identity: torch.Tensor, token: int) -> torch.Tensor:
        """`prompt` [1, T, D] with the embedding at position `token` fused with `identity` [1, D]."""
        out = prompt.clone()
        word = prompt[:, token].to(identity)
        out[:, token] = self.fuse_module(word, identity).to(prompt)
        return out


def check_photomaker_keys(keys: Iterable[str], what: str) -> None:
    """Raise naming `what` unless the keys (as released, "id_encoder."-prefixed or not) are an ID encoder's."""
    present = {k.removeprefix("id_encoder.") for k in keys}
    missing = [k for k in ("visual_projection_2.weight", "fuse_module.layer_norm.weight") if k not in present]
    if missing:
        raise ValueError(f"{what} is not a PhotoMaker ID encoder: it has no {', '.join(missing)}")


def load_photomaker(state_dict: Mapping[str, torch.Tensor], what: str = "PhotoMaker file") -> PhotoMakerIDEncoder:
    """Build the ID encoder from a PhotoMaker state dict (keys as released, "id_encoder." stripped); its
    tensors become the parameters (assigned, not copied: an fp16 file stays fp16)."""
    if any(k.startswith("id_encoder.") for k in state_dict):
        state_dict = {k[len("id_encoder."):]: v for k, v in state_dict.items() if k.startswith("id_encoder.")}
    check_photomaker_keys(state_dict, what)
    vision = load_clip_vision({k: v for k, v in state_dict.items() if k.startswith(("vision_model.", "visual_projection."))})
    out_dim, in_dim = state_dict["visual_projection_2.weight"].shape
    projection_2 = nn.Linear(in_dim, out_dim, bias=False)
    projection_2.load_state_dict({"weight": state_dict["visual_projection_2.weight"]}, assign=True)
    fuse = FuseModule(state_dict["fuse_module.layer_norm.weight"].shape[0])
    fuse.load_state_dict({k[len("fuse_module."):]: v for k, v in state_dict.items() if k.startswith("fuse_module.")},
                         assign=True)
    return PhotoMakerIDEncoder(vision, projection_2, fuse).eval()
