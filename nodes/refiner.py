"""The one-node SDXL base -> refiner hand-off, expanded into two KSamplerAdvanced nodes so the canvas,
the cache and the model manager see the real work (the base is offloaded when the refiner needs room)."""

from typing import Annotated

from pydantic import Field

from engine.graph.expansion import GraphBuilder
from engine.graph.native import Node, NodeOutput, Out, Socket, Widget, node
from nodes.sampling import MAX_STEPS, Cfg, SamplerName, SchedulerName, Seed, Steps


def _link(type_: str, tooltip: str):
    return Annotated[object, Socket(type_, raw_link=True, tooltip=tooltip)]


def switch_step(steps: int, switch: float) -> int:
    """The step at which the refiner takes over."""
    return round(steps * switch)


@node(category="sampling", display_name="Refiner (SDXL base + refiner)", outputs=[Out("LATENT")])
class Refiner(Node):
    """Sample `steps` steps: the base model for the first `switch` fraction, the refiner for the rest
    (one noise schedule; the base hands over its latent with the leftover noise)."""

    base_model: _link("MODEL", "The base model (e.g. sd_xl_base_1.0).")
    refiner_model: _link("MODEL", "The refiner model (e.g. sd_xl_refiner_1.0).")
    base_positive: _link("CONDITIONING", "Positive prompt encoded with the base CLIP.")
    base_negative: _link("CONDITIONING", "Negative prompt encoded with the base CLIP.")
    refiner_positive: _link("CONDITIONING", "Positive prompt encoded with the refiner CLIP.")
    refiner_negative: _link("CONDITIONING", "Negative prompt encoded with the refiner CLIP.")
    latent_image: _link("LATENT", "The starting latent (e.g. Empty Latent Image).")
    seed: Seed = 0
    steps: Steps = 25
    switch: Annotated[float, Widget(step=0.01, tooltip="Fraction of the steps run by the base model.")] = \
        Field(0.8, ge=0.0, le=1.0)
    cfg: Cfg = 8.0
    sampler_name: SamplerName = "euler"
    scheduler: SchedulerName = "normal"

    def run(self, ctx):
        at = switch_step(self.steps, self.switch)
        shared = {"noise_seed": self.seed, "steps": self.steps, "cfg": self.cfg, "sampler_name": self.sampler_name,
                  "scheduler": self.scheduler}
        graph = GraphBuilder()
        base = graph.node("KSamplerAdvanced", model=self.base_model, positive=self.base_positive,
                          negative=self.base_negative, latent_image=self.latent_image, add_noise="enable",
                          start_at_step=0, end_at_step=at, return_with_leftover_noise="enable", **shared)
        refine = graph.node("KSamplerAdvanced", model=self.refiner_model, positive=self.refiner_positive,
                            negative=self.refiner_negative, latent_image=base.out(0), add_noise="disable",
                            start_at_step=at, end_at_step=MAX_STEPS, return_with_leftover_noise="disable",
                            **shared)
        return NodeOutput(result=(refine.out(0),), expand=graph.finalize())
