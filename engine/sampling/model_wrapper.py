"""What a sampler needs from a model: the network behind a sigma-space denoiser, plus its conditioning wiring.

`SamplingModel` is the reference implementation of what `engine.sampling.ksampler.sample` uses; a MODEL
value may be one, or any object with the same members (model_sampling, apply_model, cond_kwargs,
process_latent_in/out, and optionally model_options and device).

Model-specific wiring lives in `extra_conds(cond, latent_shape) -> dict`: it turns one CONDITIONING
entry's options (pooled output, SDXL sizes, SVD fps/motion/augmentation, concat_latent_image) into
keyword arguments of the network call, e.g. {"y": adm_vector} or {"concat": latent}. "concat" is
concatenated to the scaled input along channels; every other key goes to `DiffusionModel.apply`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from engine.sampling.model_sampling import ModelSampling


class DiffusionModel(Protocol):
    """The network: eps or v from a scaled input, a timestep per sample and cross-attention context.

    `control` is a dict of residual lists ({"input": [...], "middle": [...], "output": [...]}) to add to
    the UNet's skip/middle features, or None.
    """

    def apply(self, x: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor, y=None, control=None,
              **kw) -> torch.Tensor: ...


ExtraConds = Callable[[dict, torch.Size], dict]


@dataclass(frozen=True)
class SamplingModel:
    """A diffusion network with its noise parametrisation, conditioning wiring and latent scaling.

    latent_scale/latent_shift (floats or per-channel tensors) map LATENT values (VAE space) to the model's
    space: (z - shift) * scale.
    `model_options` is ComfyUI's dict of sampling hooks (sampler_cfg_function, ...; see cfg.py).
    """

    diffusion_model: DiffusionModel
    model_sampling: ModelSampling
    extra_conds: ExtraConds | None = None
    latent_scale: float = 1.0
    latent_shift: float = 0.0
    dtype: torch.dtype | None = None
    device: Any = None
    model_options: dict = field(default_factory=dict)
    hook_target: Any = None  # the MODEL whose weights HOOKS on conditioning patch (engine.sampling.hooks)

    def apply_model(self, x: torch.Tensor, sigma: torch.Tensor, context: torch.Tensor, concat=None,
                    control=None, **kw) -> torch.Tensor:
        """The denoised x0 for noisy x at per-sample sigma [B]; `kw` may carry the call's
        transformer_options (see engine.sampling.model_options)."""
        ms = self.model_sampling
        dtype = self.dtype or x.dtype
        xc = ms.calculate_input(sigma, x)
        if concat is not None:
            xc = torch.cat([xc, concat.to(xc)], dim=1)
        t = ms.timestep(sigma).float()
        kw = {k: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in kw.items()}
        out = self.diffusion_model.apply(xc.to(dtype), t, context.to(dtype), control=control, **kw)
        return ms.calculate_denoised(sigma, out.to(x.dtype), x)

    def cond_kwargs(self, cond: dict, latent_shape: torch.Size) -> dict:
        """Network keyword arguments for one CONDITIONING entry's option dict (model-specific)."""
        return self.extra_conds(cond, latent_shape) if self.extra_conds else {}

    def process_latent_in(self, latent: torch.Tensor) -> torch.Tensor:
        return (latent - _on(self.latent_shift, latent)) * _on(self.latent_scale, latent)

    def process_latent_out(self, latent: torch.Tensor) -> torch.Tensor:
        return latent / _on(self.latent_scale, latent) + _on(self.latent_shift, latent)


def _on(value, like: torch.Tensor):
    """A float, or a per-channel tensor moved to `like`'s device and dtype."""
    return value.to(like) if torch.is_tensor(value) else value
