"""ComfyUI's `comfy_extras.nodes_custom_sampler`: the NOISE value classes packs build themselves
(Noise_RandomNoise, Noise_EmptyNoise, drawing KSampler's seeded noise through comfy.sample), and the
module's nodes (SamplerCustom, BasicScheduler, ...) read from Loom's registry."""

from __future__ import annotations

import torch

from comfy_compat.comfy.sample import prepare_noise
from comfy_compat.comfy_extras import node_getter

__getattr__ = node_getter(__name__)


class Noise_EmptyNoise:
    """NOISE that adds nothing (a latent that is already noisy)."""

    seed = 0

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        samples = input_latent["samples"]
        return torch.zeros(samples.shape, dtype=samples.dtype, layout=samples.layout, device="cpu")


class Noise_RandomNoise:
    """NOISE drawn from a seed exactly as KSampler draws it (per batch index when the latent has one)."""

    def __init__(self, seed: int):
        self.seed = seed

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        return prepare_noise(input_latent["samples"], self.seed, input_latent.get("batch_index"))
