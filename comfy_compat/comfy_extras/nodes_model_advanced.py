"""ComfyUI's `comfy_extras.nodes_model_advanced`: the prediction mixins packs build model samplings from
(LCM, X0, ModelSamplingDiscreteDistilled) over comfy.model_sampling, and the module's nodes
(ModelSamplingDiscrete, RescaleCFG, ...) read from Loom's registry."""

from __future__ import annotations

from typing import Any

import torch

from comfy_compat.comfy.model_sampling import EPS, ModelSamplingDiscrete
from comfy_compat.comfy_extras import node_getter

__getattr__ = node_getter(__name__)

LCM_SIGMA_DATA = 0.5
LCM_TIMESTEP_SCALING = 10.0


class LCM(EPS):
    """Latent consistency models: x0 = c_skip(t) * x + c_out(t) * eps-estimate of x0, with the boundary
    conditions of Luo et al. (2023) (sigma_data 0.5, timesteps scaled by 10)."""

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor, model_input: torch.Tensor) -> Any:
        shape = (sigma.shape[0],) + (1,) * (model_output.ndim - 1)
        t = self.timestep(sigma).reshape(shape) * LCM_TIMESTEP_SCALING
        sigma = sigma.reshape(shape)
        x0 = model_input - model_output * sigma
        c_skip = LCM_SIGMA_DATA ** 2 / (t ** 2 + LCM_SIGMA_DATA ** 2)
        c_out = t / (t ** 2 + LCM_SIGMA_DATA ** 2) ** 0.5
        return c_out * x0 + c_skip * model_input


class X0(EPS):
    """The network predicts x0 directly."""

    def calculate_denoised(self, sigma: torch.Tensor, model_output: torch.Tensor, model_input: torch.Tensor) -> Any:
        return model_output


class ModelSamplingDiscreteDistilled(ModelSamplingDiscrete):
    """A distilled model's discrete schedule: every `skip_steps`-th of the 1000 timesteps."""

    original_timesteps = 50

    def __init__(self, model_config: Any = None, zsnr: Any = None):
        super().__init__(model_config, zsnr)
        skip = len(self.sigmas) // self.original_timesteps
        self.skip_steps = skip
        self.sigmas = self.sigmas[skip - 1::skip].clone()
        self.log_sigmas = self.sigmas.log()
        self.alphas_cumprod = self.alphas_cumprod[skip - 1::skip].clone()

    def timestep(self, sigma: torch.Tensor) -> torch.Tensor:
        return super().timestep(sigma) * self.skip_steps + (self.skip_steps - 1)

    def sigma(self, timestep: torch.Tensor) -> torch.Tensor:
        steps = (torch.as_tensor(timestep, dtype=torch.float32) - (self.skip_steps - 1)) / self.skip_steps
        return super().sigma(steps)
