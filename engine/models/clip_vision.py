"""CLIP image encoders (SVD's OpenCLIP ViT-H, clip_vision files) as transformers' CLIPVisionModelWithProjection.

Reads the OpenCLIP `visual.*` layout (converted at load) or the HF `vision_model.*` layout, infers the
config from shapes, and encodes images the way ComfyUI's CLIPVisionEncode does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from engine.memory_tiers import compute_dtype
from engine.models.clip_keys import (
    VISION_HF,
    KeyMapError,
    hf_visual_to_open_clip,
    is_open_clip_layout,
    open_clip_visual_to_hf,
)
from engine.models.text_encoders import HEAD_WIDTH, attention_heads, count_layers, load_weights

if TYPE_CHECKING:
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# OpenCLIP visual towers whose heads are not 64 wide (ViT-H-14: 16 x 80, ViT-bigG-14: 16 x 104)
VISION_HEAD_WIDTH = {1280: 80, 1664: 104}
_OPEN_CLIP_MARK = "conv1.weight"
_HF_MARK = VISION_HF + "embeddings.patch_embedding.weight"
_PROJECTION = "visual_projection.weight"


def find_visual_tower(keys) -> tuple[str, str]:
    """(prefix, layout) of the image encoder in a state dict: OpenCLIP `…visual.conv1.weight`
    (SVD: `conditioner.embedders.0.open_clip.model.visual.`) or HF `…vision_model.*`."""
    for key in sorted(keys):
        if key.endswith("visual." + _OPEN_CLIP_MARK) or key == _OPEN_CLIP_MARK:
            return key[: -len(_OPEN_CLIP_MARK)], "open_clip"
        if key.endswith(_HF_MARK):
            return key[: -len(_HF_MARK)], "hf"
    raise KeyMapError("no CLIP vision tower (visual.conv1.weight or vision_model.*) in these weights")


def infer_vision_config(sd: Mapping[str, torch.Tensor], open_clip: bool) -> CLIPVisionConfig:
    """CLIPVisionConfig from `vision_model.…` shapes; image size = patch x sqrt(positions - 1).
    Activation: gelu for OpenCLIP towers (and HF files of width >= 1280), quick_gelu for OpenAI's."""
    from transformers import CLIPVisionConfig  # imported on first use: transformers takes seconds to import

    width, channels, patch, _ = sd[_HF_MARK].shape
    grid = math.isqrt(sd[VISION_HF + "embeddings.position_embedding.weight"].shape[0] - 1)
    fc1 = sd.get(VISION_HF + "encoder.layers.0.mlp.fc1.weight")
    return CLIPVisionConfig(
        hidden_size=width,
        intermediate_size=fc1.shape[0] if fc1 is not None else 4 * width,
        num_hidden_layers=count_layers(sd),
        num_attention_heads=attention_heads(width, VISION_HEAD_WIDTH.get(width, HEAD_WIDTH)),
        num_channels=channels,
        image_size=grid * patch,
        patch_size=patch,
        projection_dim=sd[_PROJECTION].shape[0],
        hidden_act="gelu" if open_clip or width >= 1280 else "quick_gelu",
        layer_norm_eps=1e-5,
        attn_implementation="sdpa",
    )


def to_hf_vision_layout(tower: Mapping[str, torch.Tensor], layout: str) -> dict[str, torch.Tensor]:
    """Tower keys (prefix stripped) -> `vision_model.…` + `visual_projection.weight`."""
    if layout == "open_clip" or is_open_clip_layout(tower):
        return open_clip_visual_to_hf(dict(tower))
    return {k: v for k, v in tower.items() if k.startswith(VISION_HF) or k == _PROJECTION}


def build_vision_model(
    config: CLIPVisionConfig, device: str | torch.device = "meta"
) -> CLIPVisionModelWithProjection:
    """An uninitialised CLIPVisionModelWithProjection (meta by default, filled by `load_weights`)."""
    from transformers import CLIPVisionModelWithProjection

    with torch.device(device):
        return CLIPVisionModelWithProjection(config)


def vision_checkpoint_state_dict(
    model: CLIPVisionModelWithProjection, open_clip: bool
) -> dict[str, torch.Tensor]:
    """The model's tensors in checkpoint naming (OpenCLIP `visual.` keys without the prefix, or HF)."""
    sd = model.state_dict()
    return hf_visual_to_open_clip(sd) if open_clip else dict(sd)


def clip_preprocess(images: torch.Tensor, size: int, crop: bool = True, mean: tuple = CLIP_MEAN,
                    std: tuple = CLIP_STD) -> torch.Tensor:
    """IMAGE [B,H,W,C] in 0..1 -> normalised [B,3,size,size]: shorter side to `size` and a centre
    crop (or a plain resize without crop), bicubic with antialiasing, rounded to 8-bit levels."""
    pixels = images[..., :3].movedim(-1, 1).float()
    height, width = pixels.shape[-2:]
    if (height, width) != (size, size):
        scale = size / min(height, width)
        target = (round(scale * height), round(scale * width)) if crop else (size, size)
        pixels = F.interpolate(pixels, size=target, mode="bicubic", antialias=True)
        top, left = (pixels.shape[-2] - size) // 2, (pixels.shape[-1] - size) // 2
        pixels = pixels[..., top : top + size, left : left + size]
    pixels = (pixels * 255).clamp(0, 255).round() / 255
    mean_t = torch.tensor(mean, device=pixels.device).view(3, 1, 1)
    std_t = torch.tensor(std, device=pixels.device).view(3, 1, 1)
    return (pixels - mean_t) / std_t


@dataclass
class ClipVisionOutput:
    """What CLIPVisionEncode yields (ComfyUI's CLIP_VISION_OUTPUT fields), float32 on CPU."""

    image_embeds: torch.Tensor  # [B, projection_dim]
    last_hidden_state: torch.Tensor  # [B, 1 + patches, width]
    penultimate_hidden_states: torch.Tensor  # [B, 1 + patches, width]

    def __getitem__(self, name: str) -> torch.Tensor:
        return getattr(self, name)


class ClipVision:
    """An image encoder; `model` is the transformers module (placed on devices by the caller)."""

    def __init__(self, model: CLIPVisionModelWithProjection) -> None:
        self.model = model

    @property
    def image_size(self) -> int:
        return self.model.config.image_size

    @torch.no_grad()
    def encode_image(self, images: torch.Tensor, crop: bool = True) -> ClipVisionOutput:
        """Encode an IMAGE batch: projected pooled embedding plus last and penultimate hidden states."""
        weight = self.model.visual_projection.weight
        pixels = clip_preprocess(images.to(weight.device), self.image_size, crop).to(compute_dtype(self.model))
        vision = self.model.vision_model
        x = vision.pre_layrnorm(vision.embeddings(pixels))
        penultimate = x
        for i, layer in enumerate(vision.encoder.layers):
            x = layer(x, None)
            if i == len(vision.encoder.layers) - 2:
                penultimate = x
        embeds = self.model.visual_projection(vision.post_layernorm(x[:, 0]))
        as_out = {"device": "cpu", "dtype": torch.float32}
        return ClipVisionOutput(embeds.to(**as_out), x.to(**as_out), penultimate.to(**as_out))


def load_clip_vision(state_dict: Mapping[str, torch.Tensor]) -> ClipVision:
    """The image encoder from a checkpoint or clip_vision file (all prefixes present)."""
    prefix, layout = find_visual_tower(list(state_dict))
    tower = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
    hf = to_hf_vision_layout(tower, layout)
    model = build_vision_model(infer_vision_config(hf, layout == "open_clip"))
    return ClipVision(load_weights(model, hf, VISION_HF))
