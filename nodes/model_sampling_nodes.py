"""Nodes that change how a MODEL sees noise or computes (ComfyUI's advanced/model group): ModelSampling*
switch the noise parametrisation through the `model_sampling` object patch, ModelComputeDtype and
TorchCompileModel change how the UNet runs, DifferentialDiffusion makes the inpainting mask depend on the
step. Nodes for model families Loom lacks (Flux, SD3, AuraFlow, Stable Cascade, DiT skip-layer guidance) keep
ComfyUI's interface and say so when run.
"""

from typing import Annotated, ClassVar, Literal

import torch
from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.sampling.model_sampling_variants import (
    continuous_edm_sampling,
    continuous_v_sampling,
    discrete_sampling,
)
from engine.values.base_model import playground_latent_format

ModelIn = Annotated[object, Socket("MODEL")]
SigmaBound = Annotated[float, Widget(step=0.001, round=False)]
COMPUTE_DTYPES = {"default": None, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@node(category="advanced/model", outputs=[Out("MODEL")])
class ModelSamplingDiscrete(Node):
    """Run the model as eps, v-prediction, LCM, x0 or img-to-img on the 1000-step discrete schedule
    (zsnr: rescaled to zero terminal SNR)."""

    model: ModelIn
    sampling: Literal["eps", "v_prediction", "lcm", "x0", "img_to_img"]
    zsnr: bool = False

    def run(self, ctx):
        m = self.model.clone()
        m.add_object_patch("model_sampling", discrete_sampling(self.sampling, self.zsnr))
        return (m,)


@node(category="advanced/model", outputs=[Out("MODEL")])
class ModelSamplingContinuousEDM(Node):
    """Run the model on a continuous EDM sigma range (eps, v-prediction, EDM or Playground v2.5)."""

    model: ModelIn
    sampling: Literal["v_prediction", "edm", "edm_playground_v2.5", "eps", "cosmos_rflow"]
    sigma_max: SigmaBound = Field(120.0, ge=0.0, le=1000.0)
    sigma_min: SigmaBound = Field(0.002, ge=0.0, le=1000.0)

    def run(self, ctx):
        if self.sampling == "cosmos_rflow":
            raise ValueError("ModelSamplingContinuousEDM: sampling 'cosmos_rflow' is for Cosmos models, which "
                             "Loom does not support; choose v_prediction, edm, edm_playground_v2.5 or eps")
        m = self.model.clone()
        m.add_object_patch("model_sampling", continuous_edm_sampling(self.sampling, self.sigma_min, self.sigma_max))
        if self.sampling == "edm_playground_v2.5":
            m.add_object_patch("latent_format", playground_latent_format())
        return (m,)


@node(category="advanced/model", outputs=[Out("MODEL")])
class ModelSamplingContinuousV(Node):
    """Run the model as continuous-time v-prediction between sigma_min and sigma_max."""

    model: ModelIn
    sampling: Literal["v_prediction"]
    sigma_max: SigmaBound = Field(500.0, ge=0.0, le=1000.0)
    sigma_min: SigmaBound = Field(0.03, ge=0.0, le=1000.0)

    def run(self, ctx):
        m = self.model.clone()
        m.add_object_patch("model_sampling", continuous_v_sampling(self.sigma_min, self.sigma_max))
        return (m,)


@node(category="advanced/debug/model", outputs=[Out("MODEL")])
class ModelComputeDtype(Node):
    """Compute the UNet in another dtype. Loom computes each model in the dtype its --precision setting
    gives; a different one is refused when sampling starts, with both named."""

    model: ModelIn
    dtype: Literal["default", "fp32", "fp16", "bf16"]

    def run(self, ctx):
        m = self.model.clone()
        m.set_model_compute_dtype(COMPUTE_DTYPES[self.dtype])
        return (m,)


@node(category="_for_testing", outputs=[Out("MODEL")], experimental=True)
class TorchCompileModel(Node):
    """Run the UNet through torch.compile (the first step compiles; later steps and runs reuse it)."""

    model: ModelIn
    backend: Annotated[str, Combo(["inductor", "cudagraphs"])]

    def run(self, ctx):
        m = self.model.clone()
        backend, compiled = self.backend, {}

        def compiled_call(apply_model, args):
            if "fn" not in compiled:
                compiled["fn"] = torch.compile(apply_model, backend=backend)
            return compiled["fn"](args["input"], args["timestep"], **args["c"])

        m.set_model_unet_function_wrapper(compiled_call)
        return (m,)


def differential_mask(sigma: torch.Tensor, denoise_mask: torch.Tensor, extra_options: dict,
                      strength: float) -> torch.Tensor:
    """The part of the mask still being denoised at this step: mask values above the run's progress (in
    timesteps), blended with the soft mask when strength < 1."""
    ms = extra_options["model"].inner_model.model_sampling  # the guider, as in ComfyUI
    sigmas = extra_options["sigmas"]
    sigma_to = max(float(ms.sigma_min), float(sigmas[-1]))
    ts_from, ts_to = ms.timestep(sigmas[0]), ms.timestep(torch.as_tensor(sigma_to))
    threshold = (ms.timestep(sigma[0]) - ts_to) / (ts_from - ts_to)
    binary = (denoise_mask >= threshold).to(denoise_mask.dtype)
    return strength * binary + (1 - strength) * denoise_mask if strength and strength < 1 else binary


@node(category="_for_testing", display_name="Differential Diffusion", outputs=[Out("MODEL")], experimental=True)
class DifferentialDiffusion(Node):
    """Inpaint with a soft mask: each pixel starts being changed once the run's progress reaches its mask
    value, so grey areas change less than white ones."""

    model: ModelIn
    strength: Annotated[float, Widget(step=0.01, optional=True)] = Field(1.0, ge=0.0, le=1.0)

    def run(self, ctx):
        m = self.model.clone()
        strength = self.strength
        m.set_model_denoise_mask_function(
            lambda sigma, mask, extra_options: differential_mask(sigma, mask, extra_options, strength))
        return (m,)


class OtherFamilyNode(Node):
    """Base of nodes for model families Loom does not run: ComfyUI's interface, and an error naming what the
    node needs when it runs."""

    needs: ClassVar[str] = ""

    def run(self, ctx):
        raise NotImplementedError(f"{type(self).__name__} {self.needs}; Loom runs SD1.x, SD2.x, SDXL and SVD "
                                  "models only")


@node(category="advanced/model", outputs=[Out("MODEL")])
class ModelSamplingFlux(OtherFamilyNode):
    """Flux's resolution-dependent shift (Flux models only)."""

    needs: ClassVar[str] = "sets the noise schedule of Flux models"
    model: ModelIn
    max_shift: Annotated[float, Widget(step=0.01)] = Field(1.15, ge=0.0, le=100.0)
    base_shift: Annotated[float, Widget(step=0.01)] = Field(0.5, ge=0.0, le=100.0)
    width: Annotated[int, Widget(step=8)] = Field(1024, ge=16, le=16384)
    height: Annotated[int, Widget(step=8)] = Field(1024, ge=16, le=16384)


@node(category="advanced/model", outputs=[Out("MODEL")])
class ModelSamplingSD3(OtherFamilyNode):
    """SD3's shifted flow schedule (SD3 models only)."""

    needs: ClassVar[str] = "sets the noise schedule of SD3 models"
    model: ModelIn
    shift: Annotated[float, Widget(step=0.01)] = Field(3.0, ge=0.0, le=100.0)


@node(category="advanced/model", outputs=[Out("MODEL")])
class ModelSamplingAuraFlow(OtherFamilyNode):
    """AuraFlow's shifted flow schedule (AuraFlow models only)."""

    needs: ClassVar[str] = "sets the noise schedule of AuraFlow models"
    model: ModelIn
    shift: Annotated[float, Widget(step=0.01)] = Field(1.73, ge=0.0, le=100.0)


@node(category="advanced/model", outputs=[Out("MODEL")])
class ModelSamplingStableCascade(OtherFamilyNode):
    """Stable Cascade's shifted schedule (Stable Cascade models only)."""

    needs: ClassVar[str] = "sets the noise schedule of Stable Cascade models"
    model: ModelIn
    shift: Annotated[float, Widget(step=0.01)] = Field(2.0, ge=0.0, le=100.0)


Layers = Annotated[str, Widget(multiline=False)]


@node(category="advanced/guidance", outputs=[Out("MODEL")])
class SkipLayerGuidanceDiT(OtherFamilyNode):
    """Skip-layer guidance for DiT models (SD3, Flux, ...)."""

    needs: ClassVar[str] = "skips blocks of DiT models (SD3, Flux, ...)"
    model: ModelIn
    double_layers: Layers = "7, 8, 9"
    single_layers: Layers = "7, 8, 9"
    scale: Annotated[float, Widget(step=0.1)] = Field(3.0, ge=0.0, le=10.0)
    start_percent: Annotated[float, Widget(step=0.001)] = Field(0.01, ge=0.0, le=1.0)
    end_percent: Annotated[float, Widget(step=0.001)] = Field(0.15, ge=0.0, le=1.0)
    rescaling_scale: Annotated[float, Widget(step=0.01)] = Field(0.0, ge=0.0, le=10.0)


@node(category="advanced/guidance", outputs=[Out("MODEL")])
class SkipLayerGuidanceDiTSimple(OtherFamilyNode):
    """Skip-layer guidance for DiT models, on the negative pass only."""

    needs: ClassVar[str] = "skips blocks of DiT models (SD3, Flux, ...)"
    model: ModelIn
    double_layers: Layers = "7, 8, 9"
    single_layers: Layers = "7, 8, 9"
    start_percent: Annotated[float, Widget(step=0.001)] = Field(0.0, ge=0.0, le=1.0)
    end_percent: Annotated[float, Widget(step=0.001)] = Field(1.0, ge=0.0, le=1.0)
