"""unCLIP conditioning: CLIP image embeddings, noise-augmented, become the UNet's label vector (SD2.1
unCLIP-L/H; ComfyUI also feeds them to SDXL as the pooled text, "Revision").

The augmentation is the SD2.1-unclip recipe ComfyUI runs: a 1000-step squared-cosine (Karlo) schedule,
embedding noised to level round(999 * noise_augmentation) with noise seeded by `seed`, then the level's
sinusoidal embedding appended: adm = [noised embeds, level embedding] * strength. Several images are summed
and augmented once more at `merge_noise` (ComfyUI's default 0.05).
"""

from __future__ import annotations

import functools
import math

import torch

from engine.models.blocks import timestep_embedding

TIMESTEPS = 1000
MAX_BETA = 0.999
DEFAULT_MERGE_NOISE = 0.05


@functools.cache
def _schedule() -> tuple[torch.Tensor, torch.Tensor]:
    """(sqrt(alpha_bar), sqrt(1 - alpha_bar)) per level of the squared-cosine schedule, as float32."""
    def alpha_bar(t: float) -> float:
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = torch.tensor([min(1 - alpha_bar((i + 1) / TIMESTEPS) / alpha_bar(i / TIMESTEPS), MAX_BETA)
                          for i in range(TIMESTEPS)], dtype=torch.float64)
    alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
    return alphas_cumprod.sqrt().float(), (1.0 - alphas_cumprod).sqrt().float()


def noise_level(noise_augmentation: float) -> int:
    return round((TIMESTEPS - 1) * noise_augmentation)


def augment(embeds: torch.Tensor, level: int, seed: int | None) -> torch.Tensor:
    """[embeds noised to `level`, the level's sinusoidal embedding] (width 2 x embeds)."""
    keep, noise_scale = _schedule()
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    noise = torch.randn(embeds.shape, dtype=embeds.dtype, generator=generator)
    noised = keep[level] * embeds + noise_scale[level] * noise
    level_embedding = timestep_embedding(torch.tensor([level]), embeds.shape[-1]).to(embeds.dtype)
    return torch.cat((noised, level_embedding.expand(embeds.shape[0], -1)), dim=1)


def unclip_vector(unclip_conditioning: list[dict], seed: int | None,
                  merge_noise: float = DEFAULT_MERGE_NOISE) -> torch.Tensor:
    """The label vector [B, 2 x embed width] from an entry's `unclip_conditioning` list (each item:
    clip_vision_output, strength, noise_augmentation)."""
    parts = []
    for item in unclip_conditioning:
        for embeds in item["clip_vision_output"].image_embeds:
            level = noise_level(item["noise_augmentation"])
            parts.append(augment(embeds[None].float().cpu(), level, seed) * item["strength"])
    if len(parts) == 1:
        return parts[0]
    summed = torch.stack(parts).sum(0)
    return augment(summed[:, : summed.shape[1] // 2], noise_level(merge_noise), seed)


def unclip_label(options: dict, adm_channels: int, batch: int) -> torch.Tensor:
    """The SD2.1-unCLIP UNet's label input y [batch, adm_channels] for one conditioning entry: zeros without
    unclip_conditioning (e.g. the negative prompt); noise seeded by the sampler's seed - 10, as ComfyUI."""
    items = options.get("unclip_conditioning")
    if not items:
        return torch.zeros(batch, adm_channels)
    seed = options.get("seed", 0) - 10
    vector = unclip_vector(items, seed, options.get("unclip_noise_augment_merge", DEFAULT_MERGE_NOISE))
    if vector.shape[1] != adm_channels:
        raise ValueError(f"unCLIP conditioning gives a {vector.shape[1]}-wide label vector, the UNet expects "
                         f"{adm_channels}: encode the image with the CLIP vision model of this checkpoint "
                         f"(unCLIPCheckpointLoader's CLIP_VISION)")
    return vector.repeat((batch + vector.shape[0] - 1) // vector.shape[0], 1)[:batch]


def sdxl_image_pooled(options: dict, width: int) -> torch.Tensor:
    """SDXL's pooled text replaced by the noise-augmented image embeddings of `unclip_conditioning`
    (ComfyUI's "Revision"): the first `width` values of the unCLIP vector, several images merged without
    extra noise."""
    return unclip_vector(options["unclip_conditioning"], options.get("seed", 0) - 10, merge_noise=0.0)[:, :width]
