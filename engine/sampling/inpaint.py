"""Inpainting inside a sampler run: the denoiser a sampler calls, which keeps the region outside the
denoise mask on the original latent's noising trajectory (ComfyUI's KSamplerX0Inpaint)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from engine.sampling.cfg import repeat_to_batch


def prepare_mask(mask: torch.Tensor, shape: torch.Size, device) -> torch.Tensor:
    """A noise mask (any resolution, [H,W], [B,H,W] or [B,1,H,W]) at latent size, per channel and sample."""
    mask = mask.float().reshape(-1, 1, *mask.shape[-2:])
    mask = F.interpolate(mask, size=tuple(shape[2:]), mode="bilinear")
    return repeat_to_batch(mask.expand(-1, shape[1], -1, -1), shape[0]).to(device)


class InpaintDenoiser:
    """`model(x, sigma, denoise_mask=None, model_options={}, seed=None) -> x0` around a guider.

    Where denoise_mask is 0 the input is replaced by the original latent noised to sigma with the run's
    noise, and the output by the original latent. A model option "denoise_mask_function"(sigma, mask,
    extra_options={"model", "sigmas"}) may reshape the mask each step (e.g. differential diffusion).
    """

    def __init__(self, model, sigmas: torch.Tensor):
        self.inner_model = model
        self.sigmas = sigmas
        self.latent_image: torch.Tensor | None = None
        self.noise: torch.Tensor | None = None

    @property
    def model_sampling(self):
        return self.inner_model.inner_model.model_sampling

    def __call__(self, x, sigma, denoise_mask=None, model_options=None, seed=None) -> torch.Tensor:
        model_options = model_options or {}
        if denoise_mask is not None:
            if "denoise_mask_function" in model_options:
                denoise_mask = model_options["denoise_mask_function"](
                    sigma, denoise_mask, extra_options={"model": self.inner_model, "sigmas": self.sigmas})
            keep = 1.0 - denoise_mask
            noised = self.model_sampling.noise_scaling(sigma, self.noise, self.latent_image)
            x = x * denoise_mask + noised * keep
        out = self.inner_model(x, sigma, model_options=model_options, seed=seed)
        if denoise_mask is not None:
            out = out * denoise_mask + self.latent_image * keep
        return out
