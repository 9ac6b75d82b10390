"""Scheduler and sigma nodes of custom sampling: make SIGMAS from a model or a formula, and edit them
(ComfyUI's interfaces; the numbers come from engine.sampling.schedules and sigma_tools)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.sampling import sigma_tools
from engine.sampling.schedules import (
    SCHEDULERS,
    beta,
    sigmas_exponential,
    sigmas_karras,
    sigmas_laplace,
    sigmas_polyexponential,
    sigmas_vp,
)

SCHEDULERS_CATEGORY = "sampling/custom_sampling/schedulers"
SIGMAS_CATEGORY = "sampling/custom_sampling/sigmas"
SD_SIGMA_MAX, SD_SIGMA_MIN = 14.614642, 0.0291675  # SD1/SDXL's range, the widgets' defaults

Steps = Annotated[int, Field(ge=1, le=10000)]
Denoise = Annotated[float, Widget(step=0.01), Field(ge=0.0, le=1.0)]
SigmaLevel = Annotated[float, Widget(step=0.01, round=False), Field(ge=0.0, le=5000.0)]


def unrounded_float(step: float, low: float, high: float):
    """A float widget in [low, high] whose value is not rounded to its step (ComfyUI's round=False)."""
    return Annotated[float, Widget(step=step, round=False), Field(ge=low, le=high)]


def _model_sampling(model):
    return model.get_model_object("model_sampling")


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class BasicScheduler(Node):
    """The model's schedule by name (KSampler's), the last steps*denoise steps for denoise < 1."""

    model: Annotated[object, Socket("MODEL")]
    scheduler: Annotated[str, Combo(list(SCHEDULERS))]
    steps: Steps = 20
    denoise: Denoise = 1.0

    def run(self, ctx):
        return (sigma_tools.basic_schedule(_model_sampling(self.model), self.scheduler, self.steps, self.denoise),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class KarrasScheduler(Node):
    """Karras et al. (2022): uniform in sigma^(1/rho)."""

    steps: Steps = 20
    sigma_max: SigmaLevel = SD_SIGMA_MAX
    sigma_min: SigmaLevel = SD_SIGMA_MIN
    rho: unrounded_float(0.01, 0.0, 100.0) = 7.0

    def run(self, ctx):
        return (sigmas_karras(self.steps, self.sigma_min, self.sigma_max, self.rho),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class ExponentialScheduler(Node):
    """Uniform in log(sigma)."""

    steps: Steps = 20
    sigma_max: SigmaLevel = SD_SIGMA_MAX
    sigma_min: SigmaLevel = SD_SIGMA_MIN

    def run(self, ctx):
        return (sigmas_exponential(self.steps, self.sigma_min, self.sigma_max),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class PolyexponentialScheduler(Node):
    """log(sigma) along a power rho of a linear ramp."""

    steps: Steps = 20
    sigma_max: SigmaLevel = SD_SIGMA_MAX
    sigma_min: SigmaLevel = SD_SIGMA_MIN
    rho: unrounded_float(0.01, 0.0, 100.0) = 1.0

    def run(self, ctx):
        return (sigmas_polyexponential(self.steps, self.sigma_min, self.sigma_max, self.rho),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class LaplaceScheduler(Node):
    """log(sigma) at Laplace(mu, beta) quantiles (Tiankai et al. 2024)."""

    steps: Steps = 20
    sigma_max: SigmaLevel = SD_SIGMA_MAX
    sigma_min: SigmaLevel = SD_SIGMA_MIN
    mu: unrounded_float(0.1, -10.0, 10.0) = 0.0
    beta: unrounded_float(0.1, 0.0, 10.0) = 0.5

    def run(self, ctx):
        return (sigmas_laplace(self.steps, self.sigma_min, self.sigma_max, self.mu, self.beta),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class VPScheduler(Node):
    """The continuous variance-preserving SDE's schedule."""

    steps: Steps = 20
    beta_d: unrounded_float(0.01, 0.0, 5000.0) = 19.9
    beta_min: unrounded_float(0.01, 0.0, 5000.0) = 0.1
    eps_s: unrounded_float(0.0001, 0.0, 1.0) = 0.001

    def run(self, ctx):
        return (sigmas_vp(self.steps, self.beta_d, self.beta_min, self.eps_s),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class BetaSamplingScheduler(Node):
    """Timesteps at Beta(alpha, beta) quantiles (Lee et al. 2024)."""

    model: Annotated[object, Socket("MODEL")]
    steps: Steps = 20
    alpha: unrounded_float(0.01, 0.0, 50.0) = 0.6
    beta: unrounded_float(0.01, 0.0, 50.0) = 0.6

    def run(self, ctx):
        return (beta(_model_sampling(self.model), self.steps, self.alpha, self.beta),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class SDTurboScheduler(Node):
    """SD-Turbo's 1-10 step schedule."""

    model: Annotated[object, Socket("MODEL")]
    steps: Annotated[int, Field(ge=1, le=10)] = 1
    denoise: Denoise = 1.0

    def run(self, ctx):
        return (sigma_tools.sd_turbo(_model_sampling(self.model), self.steps, self.denoise),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class AlignYourStepsScheduler(Node):
    """Align Your Steps' optimised schedule for SD1, SDXL or SVD."""

    model_type: Literal["SD1", "SDXL", "SVD"]
    steps: Annotated[int, Field(ge=1, le=10000)] = 10
    denoise: Denoise = 1.0

    def run(self, ctx):
        return (sigma_tools.align_your_steps(self.model_type, self.steps, self.denoise),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class GITSScheduler(Node):
    """GITS' schedule for a coefficient (0.80-1.50)."""

    coeff: Annotated[float, Widget(step=0.05), Field(ge=0.8, le=1.5)] = 1.2
    steps: Annotated[int, Field(ge=2, le=1000)] = 10
    denoise: Denoise = 1.0

    def run(self, ctx):
        return (sigma_tools.gits(self.coeff, self.steps, self.denoise),)


@node(category=SCHEDULERS_CATEGORY, outputs=[Out("SIGMAS")])
class OptimalStepsScheduler(Node):
    """OptimalSteps' schedule for FLUX, Wan or Chroma."""

    model_type: Literal["FLUX", "Wan", "Chroma"]
    steps: Annotated[int, Field(ge=3, le=1000)] = 20
    denoise: Denoise = 1.0

    def run(self, ctx):
        return (sigma_tools.optimal_steps(self.model_type, self.steps, self.denoise),)


@node(category=SIGMAS_CATEGORY, outputs=[Out("SIGMAS", "high_sigmas"), Out("SIGMAS", "low_sigmas")])
class SplitSigmas(Node):
    """Split a schedule at a step: sigmas up to it, and from it on."""

    sigmas: Annotated[object, Socket("SIGMAS")]
    step: Annotated[int, Field(ge=0, le=10000)] = 0

    def run(self, ctx):
        return self.sigmas[:self.step + 1], self.sigmas[self.step:]


@node(category=SIGMAS_CATEGORY, outputs=[Out("SIGMAS", "high_sigmas"), Out("SIGMAS", "low_sigmas")])
class SplitSigmasDenoise(Node):
    """Split a schedule so the low part holds the last steps*denoise steps."""

    sigmas: Annotated[object, Socket("SIGMAS")]
    denoise: Denoise = 1.0

    def run(self, ctx):
        return sigma_tools.split_at_denoise(self.sigmas, self.denoise)


@node(category=SIGMAS_CATEGORY, outputs=[Out("SIGMAS")])
class FlipSigmas(Node):
    """Reverse a schedule (for unsampling to noise)."""

    sigmas: Annotated[object, Socket("SIGMAS")]

    def run(self, ctx):
        return (sigma_tools.flip(self.sigmas),)


@node(category=SIGMAS_CATEGORY, outputs=[Out("SIGMAS")])
class SetFirstSigma(Node):
    """Replace a schedule's first sigma."""

    sigmas: Annotated[object, Socket("SIGMAS")]
    sigma: unrounded_float(0.001, 0.0, 20000.0) = 136.0

    def run(self, ctx):
        sigmas = self.sigmas.clone()
        sigmas[0] = self.sigma
        return (sigmas,)


@node(category=SIGMAS_CATEGORY, outputs=[Out("SIGMAS")])
class ExtendIntermediateSigmas(Node):
    """Add levels inside the steps that start in a sigma range."""

    sigmas: Annotated[object, Socket("SIGMAS")]
    steps: Annotated[int, Field(ge=1, le=100)] = 2
    start_at_sigma: unrounded_float(0.01, -1.0, 20000.0) = -1.0
    end_at_sigma: unrounded_float(0.01, 0.0, 20000.0) = 12.0
    spacing: Literal["linear", "cosine", "sine"]

    def run(self, ctx):
        return (sigma_tools.extend_intermediate(self.sigmas, self.steps, self.start_at_sigma, self.end_at_sigma,
                                                self.spacing),)


@node(category=SIGMAS_CATEGORY, outputs=[Out("FLOAT", "sigma_value")])
class SamplingPercentToSigma(Node):
    """The model's sigma at a fraction of its schedule."""

    model: Annotated[object, Socket("MODEL")]
    sampling_percent: Annotated[float, Widget(step=0.0001), Field(ge=0.0, le=1.0)] = 0.0
    return_actual_sigma: Annotated[bool, Widget(tooltip=(
        "Give the schedule's true sigma rather than the one used to test step ranges; "
        "only 0.0 and 1.0 differ."))] = False

    def run(self, ctx):
        return (sigma_tools.percent_to_sigma(_model_sampling(self.model), self.sampling_percent,
                                             self.return_actual_sigma),)
