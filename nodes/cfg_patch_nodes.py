"""CFG-modifying model patches: nodes that return the MODEL with a guidance hook set in its model_options
(ComfyUI's interfaces; the formulas are engine.sampling.cfg_patches)."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.sampling import cfg_patches

Model = Annotated[object, Socket("MODEL")]
PATCHED = [Out("MODEL", "patched_model")]


def _clone_with_hook(setter: str, model, fn) -> tuple:
    """The node's output: a clone of `model` with one guidance hook set through the named ModelPatcher setter."""
    patched = model.clone()
    getattr(patched, setter)(fn)
    return (patched,)


_with_cfg_function = partial(_clone_with_hook, "set_model_sampler_cfg_function")
_with_pre_cfg_function = partial(_clone_with_hook, "set_model_sampler_pre_cfg_function")
_with_post_cfg_function = partial(_clone_with_hook, "set_model_sampler_post_cfg_function")


@node(category="advanced/model", outputs=[Out("MODEL")])
class RescaleCFG(Node):
    """Rescale the guided prediction towards the positive's spread (reduces over-saturation at high cfg)."""

    model: Model
    multiplier: Annotated[float, Widget(step=0.01), Field(ge=0.0, le=1.0)] = 0.7

    def run(self, ctx):
        return _with_cfg_function(self.model, cfg_patches.rescale_cfg(self.multiplier))


@node(category="advanced/guidance", outputs=PATCHED)
class CFGNorm(Node):
    """Keep the guided x0's norm within the positive x0's."""

    model: Model
    strength: Annotated[float, Widget(step=0.01), Field(ge=0.0, le=100.0)] = 1.0

    def run(self, ctx):
        return _with_post_cfg_function(self.model, cfg_patches.cfg_norm(self.strength))


@node(category="advanced/guidance", outputs=PATCHED)
class CFGZeroStar(Node):
    """CFG-Zero*: guidance with an optimised scale of the negative prediction."""

    model: Model

    def run(self, ctx):
        return _with_post_cfg_function(self.model, cfg_patches.cfg_zero_star())


@node(category="sampling/custom_sampling", display_name="Adaptive Projected Guidance", outputs=[Out("MODEL")])
class APG(Node):
    """Adaptive Projected Guidance: damp the guidance component along the positive prediction."""

    model: Model
    eta: Annotated[float, Widget(step=0.01, tooltip=(
        "Weight of the guidance part parallel to the positive prediction; 1 gives plain CFG.")),
        Field(ge=-10.0, le=10.0)] = 1.0
    norm_threshold: Annotated[float, Widget(step=0.1, tooltip=(
        "Cap on the guidance vector's norm; 0 turns the cap off.")),
        Field(ge=0.0, le=50.0)] = 5.0
    momentum: Annotated[float, Widget(step=0.01, tooltip=(
        "Momentum of the running average of guidance across steps; 0 turns it off.")),
        Field(ge=-5.0, le=1.0)] = 0.0

    def run(self, ctx):
        return _with_pre_cfg_function(
            self.model, cfg_patches.adaptive_projected_guidance(self.eta, self.norm_threshold, self.momentum))


@node(category="_for_testing", outputs=PATCHED,
      display_name="Mahiro is so cute that she deserves a better guidance function!! (。・ω・。)",
      description=("Weights guidance by how far the positive prediction points, not only by its "
                   "difference from the negative one."))
class Mahiro(Node):
    """Guidance weighted towards the positive prompt's direction."""

    model: Model

    def run(self, ctx):
        return _with_post_cfg_function(self.model, cfg_patches.mahiro())


@node(category="advanced/guidance", outputs=PATCHED, display_name="Tangential Damping CFG",
      description=("TCFG – Tangential Damping CFG (2503.18137)\n\nRefine the uncond (negative) to align with the "
                   "cond (positive) for improving quality."))
class TCFG(Node):
    """Tangential Damping CFG."""

    model: Model

    def run(self, ctx):
        return _with_pre_cfg_function(self.model, cfg_patches.tangential_damping_cfg())


@node(category="_for_testing", display_name="Perp-Neg (DEPRECATED by PerpNegGuider)", outputs=[Out("MODEL")])
class PerpNeg(Node):
    """Perp-Neg as a model patch (superseded by PerpNegGuider)."""

    model: Model
    empty_conditioning: Annotated[object, Socket("CONDITIONING")]
    neg_scale: Annotated[float, Widget(step=0.01), Field(ge=0.0, le=100.0)] = 1.0

    def run(self, ctx):
        return _with_cfg_function(self.model, cfg_patches.perp_neg_cfg(self.empty_conditioning, self.neg_scale))


@node(category="sampling/video_models", outputs=[Out("MODEL")])
class VideoTriangleCFGGuidance(Node):
    """Video guidance rising from min_cfg at the first and last frames to cfg in the middle."""

    model: Model
    min_cfg: Annotated[float, Widget(step=0.5, round=0.01), Field(ge=0.0, le=100.0)] = 1.0

    def run(self, ctx):
        return _with_cfg_function(self.model, cfg_patches.video_triangle_cfg(self.min_cfg))


@node(category="latent/advanced/operations", outputs=[Out("MODEL")])
class LatentApplyOperationCFG(Node):
    """Apply a LATENT_OPERATION to the guidance each step."""

    model: Model
    operation: Annotated[object, Socket("LATENT_OPERATION")]

    def run(self, ctx):
        return _with_pre_cfg_function(self.model, cfg_patches.latent_operation_cfg(self.operation))
