"""ComfyUI's `model_options` call points on the sampler side: what a MODEL's patches see on every network
call, and the unet function wrapper.

A MODEL's `model_options` (ComfyUI's names) holds "transformer_options" (attention / block patches, read
inside the UNet) and "model_function_wrapper" (wraps the whole network call). Each batched call gets a
fresh transformer_options with "cond_or_uncond" (0 positive / 1 negative per chunk of the batch),
"uuids" (the conditioning entry of each chunk) and "sigmas", as ComfyUI's calc_cond_batch sets them.
"""

from __future__ import annotations

import torch

# Loom's network keyword names -> ComfyUI's names in the wrapper's "c" dict.
COMFY_NAMES = {"context": "c_crossattn", "concat": "c_concat"}
LOOM_NAMES = {v: k for k, v in COMFY_NAMES.items()}


def model_options_of(model) -> dict:
    """The model_options a sampling model carries (empty for models without patches)."""
    return getattr(model, "model_options", None) or {}


def call_options(model_options: dict, cond_or_uncond: list[int], sigmas: torch.Tensor,
                 uuids: list | None = None) -> dict:
    """transformer_options for one batched network call."""
    return {**model_options.get("transformer_options", {}), "cond_or_uncond": list(cond_or_uncond),
            "uuids": list(uuids or []), "sigmas": sigmas}


def run_model(model, model_options: dict, x: torch.Tensor, sigma: torch.Tensor, kwargs: dict,
              cond_or_uncond: list[int], uuids: list | None = None) -> torch.Tensor:
    """x0 for the batch: model.apply_model, through "model_function_wrapper" when one is set, which is called
    as ComfyUI calls it: wrapper(apply_model, {"input", "timestep", "c", "cond_or_uncond"})."""
    kwargs = {**kwargs, "transformer_options": call_options(model_options, cond_or_uncond, sigma, uuids)}
    wrapper = model_options.get("model_function_wrapper")
    if wrapper is None:
        return model.apply_model(x, sigma, **kwargs)

    def apply_model(input, timestep, **c):
        return model.apply_model(input, timestep, **{LOOM_NAMES.get(k, k): v for k, v in c.items()})

    c = {COMFY_NAMES.get(k, k): v for k, v in kwargs.items()}
    return wrapper(apply_model, {"input": x, "timestep": sigma, "c": c, "cond_or_uncond": list(cond_or_uncond)})
