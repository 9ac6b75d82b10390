"""ComfyUI's `comfy.model_sampling`: the sigma parametrisations (Loom's engine.sampling.model_sampling) under
ComfyUI's names. Packs combine a schedule class with a prediction mixin, e.g.
`class Sampling(ModelSamplingDiscrete, V_PREDICTION)`; the mixin picks Loom's prediction type."""

from __future__ import annotations

from typing import Any

from engine.sampling.model_sampling import DiscreteModelSampling, EDMModelSampling, ModelSampling

__all__ = ["EDM", "EPS", "V_PREDICTION", "ModelSampling", "ModelSamplingContinuousEDM", "ModelSamplingDiscrete", "time_snr_shift"]


class EPS:
    """Prediction mixin: the network predicts the noise."""

    comfy_prediction = "eps"


class V_PREDICTION(EPS):
    """Prediction mixin: the network predicts v."""

    comfy_prediction = "v"


class EDM(V_PREDICTION):
    """Prediction mixin of EDM-style v models (SVD)."""


def time_snr_shift(alpha: float, t: Any) -> Any:
    """The timestep shift of flow models: alpha * t / (1 + (alpha - 1) * t)."""
    if alpha == 1.0:
        return t
    return alpha * t / (1 + (alpha - 1) * t)


def _settings(model_config: Any) -> dict:
    return dict(getattr(model_config, "sampling_settings", None) or {})


class ModelSamplingDiscrete(DiscreteModelSampling):
    """1000 discrete DDPM timesteps (SD1.x, SD2.x, SDXL); linear_start/linear_end from the config."""

    def __init__(self, model_config: Any = None, zsnr: Any = None):
        settings = _settings(model_config)
        super().__init__(getattr(self, "comfy_prediction", "eps"), settings.get("timesteps", 1000),
                         settings.get("linear_start", 0.00085), settings.get("linear_end", 0.012))


class ModelSamplingContinuousEDM(EDMModelSampling):
    """Continuous EDM sigmas (sigma_min..sigma_max from the config)."""

    def __init__(self, model_config: Any = None):
        settings = _settings(model_config)
        super().__init__(getattr(self, "comfy_prediction", "v"), settings.get("sigma_min", 0.002), settings.get("sigma_max", 700.0),
                         settings.get("sigma_data", 1.0))
