"""NOISE values: where a custom-sampling run's starting noise comes from (ComfyUI's Noise_RandomNoise and
Noise_EmptyNoise). Each has a `seed` (handed to the sampler for its own noise) and
`generate_noise(latent_dict) -> Tensor` on the CPU, shaped like latent["samples"]."""

from __future__ import annotations

import torch

from engine.sampling.ksampler import prepare_noise


class RandomNoise:
    """Seeded Gaussian noise for the whole batch (KSampler's noise for the same seed and latent)."""

    def __init__(self, seed: int):
        self.seed = seed

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        return prepare_noise(input_latent["samples"], self.seed, input_latent.get("batch_index"))


class EmptyNoise:
    """No noise: the latent is sampled as it is (seed 0 for the sampler's own noise)."""

    seed = 0

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        samples = input_latent["samples"]
        return torch.zeros(samples.shape, dtype=samples.dtype, layout=samples.layout, device="cpu")
