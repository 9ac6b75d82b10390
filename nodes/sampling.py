"""KSampler nodes: denoise a latent with a MODEL steered by positive/negative CONDITIONING.

Each step reports progress with a cheap latent preview and is where an interrupt lands.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

import torch
from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.sampling import SAMPLERS, SCHEDULERS, sample
from engine.sampling.previews import latent_preview
from engine.values.control import controls_bound
from engine.values.denoiser import sampling_model
from engine.values.gligen import gligens_bound
from engine.values.model_patcher import ModelPatcher
from nodes.model_files import model_manager

MAX_SEED = 0xFFFFFFFFFFFFFFFF
MAX_STEPS = 10000

# The sampling widgets every sampler node declares alike (defaults are given where they are used).
Seed = Annotated[int, Widget(control_after_generate=True), Field(ge=0, le=MAX_SEED)]
Steps = Annotated[int, Field(ge=1, le=MAX_STEPS)]
Cfg = Annotated[float, Widget(step=0.1, round=0.01), Field(ge=0.0, le=100.0)]
SamplerName = Annotated[str, Combo(lambda folders: list(SAMPLERS))]  # live: packs may register samplers
SchedulerName = Annotated[str, Combo(lambda folders: list(SCHEDULERS))]


def _progress(ctx, model: ModelPatcher):
    family = model.config.family

    def report(step: int, total: int, denoised: torch.Tensor, x: torch.Tensor) -> None:
        ctx.progress(step + 1, total, latent_preview(denoised, family))

    return report


@contextmanager
def _placed(ctx, model: ModelPatcher, conds: dict, latent: dict) -> Iterator[tuple[object, dict]]:
    """The UNet, and the ControlNets and GLIGEN models `conds` use, on the compute device for the block;
    yields the sampler's model and `conds` bound to them. Interruptible before anything is placed."""
    manager = model_manager(ctx)
    ctx.check_interrupt()
    with manager.use(model.handle) as unet:
        sampler_model = sampling_model(model, unet)
        pair = conds.get("positive", []), conds.get("negative", [])
        with controls_bound(manager, model, sampler_model, latent, *pair) as (positive, negative):
            controlled = {**conds, "positive": positive}
            if "negative" in conds:
                controlled["negative"] = negative
            with gligens_bound(manager, controlled) as bound:
                yield sampler_model, bound


def placer(ctx):
    """The guiders' `place` for this run (see `_placed`)."""

    def place(model: ModelPatcher, conds: dict, batch: int):
        return _placed(ctx, model, conds, {"samples": torch.empty(batch)})

    return place


def run_sampler(ctx, model: ModelPatcher, latent: dict, *, positive: list, negative: list, **settings) -> dict:
    """engine.sampling.sample with the UNet (and the ControlNets and GLIGEN models of the conditioning)
    placed on the compute device for the whole run."""
    with _placed(ctx, model, {"positive": positive, "negative": negative}, latent) as (sampler_model, conds):
        return sample(sampler_model, latent=latent, callback=_progress(ctx, model),
                      positive=conds["positive"], negative=conds["negative"], **settings)


@node(category="sampling", display_name="KSampler", outputs=[Out("LATENT", tooltip="The denoised latent.")])
class KSampler(Node):
    """Denoise the latent: text-to-image from an empty latent, image-to-image with denoise below 1."""

    model: Annotated[object, Socket("MODEL")]
    seed: Seed = 0
    steps: Steps = 20
    cfg: Cfg = 8.0
    sampler_name: SamplerName
    scheduler: SchedulerName
    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    latent_image: Annotated[object, Socket("LATENT")]
    denoise: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=1.0)

    def run(self, ctx):
        return (run_sampler(ctx, self.model, self.latent_image, noise_seed=self.seed, steps=self.steps,
                            cfg=self.cfg, sampler_name=self.sampler_name, scheduler=self.scheduler,
                            positive=self.positive, negative=self.negative, denoise=self.denoise),)


@node(category="sampling", display_name="KSampler (Advanced)", outputs=[Out("LATENT")])
class KSamplerAdvanced(Node):
    """KSampler over a step range: the SDXL base -> refiner hand-off (leftover noise, no added noise)."""

    model: Annotated[object, Socket("MODEL")]
    add_noise: Literal["enable", "disable"]
    noise_seed: Seed = 0
    steps: Steps = 20
    cfg: Cfg = 8.0
    sampler_name: SamplerName
    scheduler: SchedulerName
    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    latent_image: Annotated[object, Socket("LATENT")]
    start_at_step: int = Field(0, ge=0, le=MAX_STEPS)
    end_at_step: int = Field(MAX_STEPS, ge=0, le=MAX_STEPS)
    return_with_leftover_noise: Literal["disable", "enable"]

    def settings(self) -> dict:
        """engine.sampling.sample's keyword arguments for these widgets (ComfyUI's mapping)."""
        return {"noise_seed": self.noise_seed, "steps": self.steps, "cfg": self.cfg,
                "sampler_name": self.sampler_name, "scheduler": self.scheduler, "positive": self.positive,
                "negative": self.negative, "add_noise": self.add_noise == "enable",
                "start_step": self.start_at_step, "last_step": self.end_at_step,
                "force_full_denoise": self.return_with_leftover_noise == "disable"}

    def run(self, ctx):
        return (run_sampler(ctx, self.model, self.latent_image, **self.settings()),)
