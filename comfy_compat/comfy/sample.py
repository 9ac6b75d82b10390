"""ComfyUI's `comfy.sample`: sample, sample_custom, prepare_noise, fix_empty_latent_channels, over Loom's
KSampler run (nodes.sampling.run_sampler: the model placed by Loom's model manager, ControlNets bound,
progress and previews reported for the running node) and Loom's guiders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np  # noqa: F401 - ComfyUI's comfy.sample imports it and packs import it from there
import torch

from comfy_compat import state
from comfy_compat.comfy.sampler_helpers import cleanup_additional_models, prepare_mask  # noqa: F401 - ComfyUI's names
from engine.sampling.ksampler import prepare_noise as loom_prepare_noise


def prepare_noise(latent_image: torch.Tensor, seed: int, noise_inds: list[int] | None = None) -> torch.Tensor:
    """The initial noise KSampler draws for `seed` (per batch index when `noise_inds` is given)."""
    return loom_prepare_noise(latent_image, seed, noise_inds)


def fix_empty_latent_channels(model: Any, latent_image: torch.Tensor) -> torch.Tensor:
    """An all-zero latent with the wrong channel count for `model` becomes zeros of the right count."""
    latent_format = getattr(getattr(model, "model", None), "latent_format", None)
    channels = getattr(latent_format, "latent_channels", None)
    if channels and latent_image.shape[1] != channels and torch.count_nonzero(latent_image) == 0:
        return torch.zeros((latent_image.shape[0], channels, *latent_image.shape[2:]), dtype=latent_image.dtype)
    return latent_image


def sample(model: Any, noise: torch.Tensor | None, steps: int, cfg: float, sampler_name: str, scheduler: str,
           positive: list, negative: list, latent_image: torch.Tensor, denoise: float = 1.0,
           disable_noise: bool = False, start_step: int | None = None, last_step: int | None = None,
           force_full_denoise: bool = False, noise_mask: Any = None, sigmas: Any = None,
           callback: Callable | None = None, disable_pbar: bool = False, seed: int | None = None,
           batch_index: Any = None) -> torch.Tensor:
    """KSampler(Advanced): denoise `latent_image` starting from `noise` (the seeded noise when None);
    returns the new samples. Progress and previews go to the running node."""
    from nodes.sampling import run_sampler

    latent = {"samples": latent_image}
    if noise_mask is not None:
        latent["noise_mask"] = noise_mask
    if batch_index is not None:
        latent["batch_index"] = batch_index
    out = run_sampler(state.node_context(), model, latent, noise_seed=0 if seed is None else seed,
                      noise=None if disable_noise else noise, steps=steps, cfg=cfg, sampler_name=sampler_name,
                      scheduler=scheduler, positive=positive, negative=negative, denoise=denoise,
                      add_noise=not disable_noise, start_step=start_step, last_step=last_step,
                      force_full_denoise=force_full_denoise, sigmas=sigmas)
    return out["samples"]


def sample_custom(model: Any, noise: torch.Tensor, cfg: float, sampler: Any, sigmas: torch.Tensor,
                  positive: list, negative: list, latent_image: torch.Tensor, noise_mask: Any = None,
                  callback: Callable | None = None, disable_pbar: bool = False, seed: int | None = None) -> torch.Tensor:
    """SamplerCustom: a SAMPLER value run down explicit `sigmas` with CFG guidance."""
    from comfy_compat.comfy.samplers import CFGGuider

    guider = CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    return guider.sample(noise, latent_image, sampler, sigmas, noise_mask, callback, disable_pbar, seed)
