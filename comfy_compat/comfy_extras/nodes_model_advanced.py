"""ComfyUI's `comfy_extras.nodes_model_advanced`: the prediction mixins and samplings packs build model
samplings from (LCM, X0, ModelSamplingDiscreteDistilled, rescale_zero_terminal_snr_sigmas), which are
Loom's engine.sampling.model_sampling_variants, and the module's nodes read from Loom's registry."""

from __future__ import annotations

from typing import Any

from comfy_compat.comfy.model_sampling import EPS, _MixinsWin
from comfy_compat.comfy_extras import node_getter
from engine.sampling.model_sampling_variants import DistilledDiscrete, LCMOutput, X0Output
from engine.sampling.model_sampling_variants import zero_terminal_snr as rescale_zero_terminal_snr_sigmas

__all__ = ["LCM", "X0", "ModelSamplingDiscreteDistilled", "rescale_zero_terminal_snr_sigmas"]
__getattr__ = node_getter(__name__)


class LCM(LCMOutput, EPS):
    """Prediction mixin of latent consistency models."""


class X0(X0Output, EPS):
    """Prediction mixin: the network predicts x0 directly."""


class ModelSamplingDiscreteDistilled(_MixinsWin, DistilledDiscrete):
    """A distilled model's discrete schedule (50 of the 1000 timesteps)."""

    def __init__(self, model_config: Any = None, zsnr: Any = None):
        super().__init__(getattr(self, "comfy_prediction", "eps"), bool(zsnr))
