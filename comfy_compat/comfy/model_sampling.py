"""ComfyUI's `comfy.model_sampling`: the sigma parametrisations (Loom's engine.sampling.model_sampling) under
ComfyUI's names. Packs combine a schedule class with a prediction mixin, e.g.
`class Sampling(ModelSamplingDiscrete, V_PREDICTION)`; the mixin picks Loom's prediction type."""

from __future__ import annotations

from typing import Any

from engine.sampling.model_sampling import DiscreteModelSampling, EDMModelSampling, ModelSampling

__all__ = ["CONST", "EDM", "EPS", "V_PREDICTION", "ModelSampling", "ModelSamplingContinuousEDM", "ModelSamplingDiscrete", "time_snr_shift"]


class EPS:
    """Prediction mixin: the network predicts the noise."""

    comfy_prediction = "eps"


class V_PREDICTION(EPS):
    """Prediction mixin: the network predicts v."""

    comfy_prediction = "v"


class CONST:
    """Prediction mixin of rectified-flow models: x = (1 - sigma) * x0 + sigma * noise, velocity output."""

    comfy_prediction = "eps"

    def calculate_input(self, sigma: Any, noise: Any) -> Any:
        return noise

    def calculate_denoised(self, sigma: Any, model_output: Any, model_input: Any) -> Any:
        s = sigma.reshape(sigma.shape[:1] + (1,) * (model_output.ndim - 1))
        return model_input - model_output * s

    def noise_scaling(self, sigma: Any, noise: Any, latent_image: Any, max_denoise: bool = False) -> Any:
        s = sigma.reshape(sigma.shape[:1] + (1,) * (noise.ndim - 1)) if sigma.ndim else sigma
        return s * noise + (1.0 - s) * latent_image

    def inverse_noise_scaling(self, sigma: Any, latent: Any) -> Any:
        s = sigma.reshape(sigma.shape[:1] + (1,) * (latent.ndim - 1)) if sigma.ndim else sigma
        return latent / (1.0 - s)


class EDM(V_PREDICTION):
    """Prediction mixin of EDM-style v models (SVD)."""


def time_snr_shift(alpha: float, t: Any) -> Any:
    """The timestep shift of flow models: alpha * t / (1 + (alpha - 1) * t)."""
    if alpha == 1.0:
        return t
    return alpha * t / (1 + (alpha - 1) * t)


PREDICTION_METHODS = ("calculate_input", "calculate_denoised", "noise_scaling", "inverse_noise_scaling")


class _MixinsWin:
    """In ComfyUI the schedule classes define no prediction maths, so in `class S(ModelSamplingDiscrete,
    LCM)` LCM's methods apply; Loom's schedule classes carry eps/v maths, so a subclass takes the
    prediction methods of any mixin in its bases that is not a Loom schedule."""

    def __init_subclass__(cls, **kwargs: Any):
        super().__init_subclass__(**kwargs)
        for name in PREDICTION_METHODS:
            if name in vars(cls):
                continue
            for klass in cls.__mro__[1:]:
                if name in vars(klass) and not issubclass(klass, ModelSampling):
                    setattr(cls, name, vars(klass)[name])
                    break


def _settings(model_config: Any) -> dict:
    return dict(getattr(model_config, "sampling_settings", None) or {})


class ModelSamplingDiscrete(_MixinsWin, DiscreteModelSampling):
    """1000 discrete DDPM timesteps (SD1.x, SD2.x, SDXL); linear_start/linear_end from the config."""

    def __init__(self, model_config: Any = None, zsnr: Any = None):
        settings = _settings(model_config)
        super().__init__(getattr(self, "comfy_prediction", "eps"), settings.get("timesteps", 1000),
                         settings.get("linear_start", 0.00085), settings.get("linear_end", 0.012))


class ModelSamplingContinuousEDM(_MixinsWin, EDMModelSampling):
    """Continuous EDM sigmas (sigma_min..sigma_max from the config)."""

    def __init__(self, model_config: Any = None):
        settings = _settings(model_config)
        super().__init__(getattr(self, "comfy_prediction", "v"), settings.get("sigma_min", 0.002), settings.get("sigma_max", 700.0),
                         settings.get("sigma_data", 1.0))
