"""`MODEL.model`: ComfyUI's BaseModel shape over a managed UNet, for code that reaches past the patcher
(`model.model.diffusion_model.input_blocks`, `model.model.model_sampling`, `model.model.latent_format`,
`model.model.model_config.unet_config["model_channels"]`, `model.model.model_type`).

One BaseModel is shared by a MODEL and all its clones (ComfyUI's `is_clone` test). Its `diffusion_model`
is the placed UNet, asked from the model manager on access (weights load then, not before).
"""

from __future__ import annotations

import dataclasses
import math
from enum import Enum

import torch
from torch import nn

from engine.memory import ModelHandle
from engine.models.detect import CheckpointConfig
from engine.sampling.model_sampling import ModelSampling, model_sampling_for
from engine.sampling.previews import FAMILY_FACTORS, LATENT_RGB

DIFFUSION_PREFIX = "diffusion_model."  # ComfyUI's state-dict prefix of the UNet inside a BaseModel


class ModelType(Enum):
    """ComfyUI's model_base.ModelType (same members and values; packs compare against them)."""

    EPS = 1
    V_PREDICTION = 2
    V_PREDICTION_EDM = 3
    STABLE_CASCADE = 4
    EDM = 5
    FLOW = 6
    V_PREDICTION_CONTINUOUS = 7
    FLUX = 8
    IMG_TO_IMG = 9
    FLOW_COSMOS = 10


class LatentFormat:
    """ComfyUI's latent_formats.SD15 / SDXL / SDXL_Playground_2_5: how VAE latents map into the model's
    space ((latent - mean) * scale_factor / std; mean 0 and std 1 unless per-channel), plus previews."""

    latent_channels = 4
    latent_dimensions = 2

    def __init__(self, scale_factor: float, family: str, latents_mean: torch.Tensor | None = None,
                 latents_std: torch.Tensor | None = None):
        self.scale_factor = scale_factor
        self.latents_mean, self.latents_std = latents_mean, latents_std
        factors, bias = LATENT_RGB[FAMILY_FACTORS.get(family, "sd1")]
        self.latent_rgb_factors, self.latent_rgb_factors_bias = factors, bias
        self.taesd_decoder_name = "taesdxl_decoder" if FAMILY_FACTORS.get(family) == "sdxl" else "taesd_decoder"

    @property
    def shift(self) -> float | torch.Tensor:
        """What process_in subtracts before scaling."""
        return 0.0 if self.latents_mean is None else self.latents_mean

    @property
    def scale(self) -> float | torch.Tensor:
        """What process_in multiplies by after the shift."""
        return self.scale_factor if self.latents_std is None else self.scale_factor / self.latents_std

    def process_in(self, latent: torch.Tensor) -> torch.Tensor:
        return (latent - _on(self.shift, latent)) * _on(self.scale, latent)

    def process_out(self, latent: torch.Tensor) -> torch.Tensor:
        return latent / _on(self.scale, latent) + _on(self.shift, latent)


def _on(value: float | torch.Tensor, like: torch.Tensor) -> float | torch.Tensor:
    return value.to(like) if torch.is_tensor(value) else value


def playground_latent_format() -> LatentFormat:
    """Playground v2.5's per-channel normalised SDXL latents (ComfyUI's SDXL_Playground_2_5)."""
    return LatentFormat(0.5, "sdxl", torch.tensor([-1.6574, 1.886, -1.383, 2.5155]).view(1, 4, 1, 1),
                        torch.tensor([8.4927, 5.9022, 6.5498, 5.2299]).view(1, 4, 1, 1))


class ModelConfig:
    """ComfyUI's supported_models entry as packs read it: unet_config (LDM names), latent_format, family."""

    def __init__(self, config: CheckpointConfig, latent_format: LatentFormat):
        unet = config.unet
        self.unet_config = {
            **{f.name: getattr(unet, f.name) for f in dataclasses.fields(unet)},
            "use_linear_in_transformer": unet.use_linear_in_transformer,
            "adm_in_channels": unet.adm_in_channels,
        }
        self.latent_format = latent_format
        self.family = config.family
        self.sampling_settings = {}


def model_type_of(config: CheckpointConfig) -> ModelType:
    """ComfyUI's ModelType for a detected checkpoint: EDM-style v for SVD, else v or eps as detected."""
    if config.family == "svd":
        return ModelType.V_PREDICTION_EDM
    return ModelType.V_PREDICTION if config.prediction_type == "v" else ModelType.EPS


class BaseModel:
    """ComfyUI's BaseModel view of one managed UNet (shared by a MODEL and its clones)."""

    memory_usage_factor = 1.0

    def __init__(self, handle: ModelHandle, config: CheckpointConfig):
        self._handle = ModelHandle(handle.slot)  # the bare weights: placing through it applies no patches
        self.config = config
        self.model_type = model_type_of(config)
        self.model_sampling: ModelSampling = model_sampling_for(
            "v_edm" if config.family == "svd" else config.prediction_type)
        self.latent_format = LatentFormat(config.scaling_factor, config.family)
        self.model_config = ModelConfig(config, self.latent_format)
        self._parameter_count: int | None = None

    @property
    def diffusion_model(self) -> nn.Module:
        """The UNet on the compute device (loaded on first access; weights as the last placement left them)."""
        slot = self._handle.slot
        if slot.module is not None:
            return slot.module
        return self._handle.manager.load(self._handle)

    def parameter_count(self) -> int:
        """Numbers in the UNet's weights (from shapes only; counted once)."""
        if self._parameter_count is None:
            self._parameter_count = sum(shape.numel() for shape in self._handle.module_shapes().values())
        return self._parameter_count

    @property
    def device(self) -> torch.device:
        return self._handle.manager.device

    def get_dtype(self) -> torch.dtype:
        """The dtype the UNet's weights are held in (fp16 for an fp16 checkpoint on the CPU: manual cast)."""
        return self._handle.held_dtype()

    @property
    def manual_cast_dtype(self) -> torch.dtype | None:
        """The dtype the UNet computes in where it differs from the one its weights are held in, else None."""
        compute = self._handle.manager.dtype_for("unet")
        return compute if compute != self.get_dtype() else None

    def memory_required(self, input_shape, cond_shapes=None) -> float:
        """Bytes of activations a batch of `input_shape` needs (ComfyUI's estimate without xformers)."""
        area = input_shape[0] * math.prod(input_shape[2:])
        return area * 0.15 * self.memory_usage_factor * (1024 * 1024)

    def process_latent_in(self, latent: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_in(latent)

    def process_latent_out(self, latent: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_out(latent)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The unpatched UNet weights under ComfyUI's "diffusion_model." prefix (read lazily from source)."""
        source = self._handle.source_tensors()
        return {DIFFUSION_PREFIX + k: source[k] for k in source}
