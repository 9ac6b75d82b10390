"""ComfyUI's `comfy.sampler_helpers`: preparing conditioning and masks for a sampler run. Loom's KSampler
gathers a run's models itself (engine.values.control.controls_bound), so the model lists are empty."""

from __future__ import annotations

from typing import Any

import torch


def convert_cond(cond: list) -> list:
    """CONDITIONING [[tensor, options], ...] -> ComfyUI's per-entry dicts (options plus "cross_attn")."""
    out = []
    for tensor, options in cond:
        entry = dict(options)
        if tensor is not None:
            entry["cross_attn"] = tensor
        entry["model_conds"] = dict(entry.get("model_conds", {}))
        out.append(entry)
    return out


def prepare_mask(noise_mask: torch.Tensor, shape: tuple, device: Any) -> torch.Tensor:
    """A mask [B,H,W] resized to the latent's size and batch, on `device`."""
    from engine.sampling.inpaint import prepare_mask as loom_prepare_mask

    return loom_prepare_mask(noise_mask, torch.Size(shape), device)


def get_additional_models(conds: dict, dtype: Any) -> tuple[list, int]:
    """(models the conditioning needs, their inference memory): Loom places them during the run."""
    return [], 0


def get_models_from_cond(cond: list, model_type: str) -> list:
    return [entry[1][model_type] for entry in cond if isinstance(entry, (list, tuple)) and model_type in entry[1]]


def cleanup_additional_models(models: Any) -> None:
    """Nothing to clean: Loom's manager frees what no run holds."""


def prepare_sampling(model: Any, noise_shape: tuple, conds: dict, model_options: dict | None = None) -> tuple:
    """(real model, conds, additional models): Loom loads the model when its KSampler runs."""
    return model.model, conds, []


def cleanup_models(conds: dict, models: Any) -> None:
    """Nothing to clean: Loom's manager frees what no run holds."""
