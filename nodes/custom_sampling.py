"""Custom sampling nodes: a sampling run assembled from NOISE, GUIDER, SAMPLER and SIGMAS values.

SamplerCustom / SamplerCustomAdvanced run a SAMPLER down SIGMAS with a guider (ComfyUI's
comfy_extras/nodes_custom_sampler interfaces); the guider, noise and sampler-select nodes build the
values (engine.sampling.guiders, noise_sources, sampler_object), so packs get the same objects.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.sampling.guiders import BasicGuider as BasicGuiderValue
from engine.sampling.guiders import CFGGuider as CFGGuiderValue
from engine.sampling.guiders import DualCFGGuider as DualCFGGuiderValue
from engine.sampling.guiders import PerpNegGuider as PerpNegGuiderValue
from engine.sampling.noise_sources import EmptyNoise
from engine.sampling.noise_sources import RandomNoise as RandomNoiseValue
from engine.sampling.previews import latent_preview
from engine.sampling.sampler_object import sampler_object
from engine.sampling.samplers import SAMPLERS
from nodes.sampling import Cfg, Seed, placer

CUSTOM = "sampling/custom_sampling"


def _check(node_name: str, value, attribute: str, expected: str):
    if not hasattr(value, attribute):
        raise TypeError(f"{node_name}: expected a {expected} value, got {type(value).__name__}")
    return value


def run_guider(ctx, node_name: str, noise, guider, sampler, sigmas, latent: dict) -> tuple[dict, dict]:
    """Sample `latent` and return (output, denoised_output) LATENTs; progress and previews each step."""
    for value, attribute, expected in ((noise, "generate_noise", "NOISE"), (guider, "sample", "GUIDER"),
                                       (sampler, "sample", "SAMPLER")):
        _check(node_name, value, attribute, expected)
    family = guider.model_patcher.config.family
    last = {}

    def progress(i, denoised, x, total):
        last["x0"] = denoised
        ctx.progress(i + 1, total, latent_preview(denoised, family))

    samples = guider.sample(noise.generate_noise(latent), latent["samples"], sampler, sigmas,
                            denoise_mask=latent.get("noise_mask"), callback=progress, seed=noise.seed)
    out = {**latent, "samples": samples.cpu()}
    if "x0" not in last:
        return out, out
    x0 = guider.model_patcher.model.process_latent_out(last["x0"].cpu().float())
    return out, {**latent, "samples": x0}


@node(category=CUSTOM, outputs=[Out("LATENT", "output"), Out("LATENT", "denoised_output")])
class SamplerCustom(Node):
    """Classifier-free guided sampling with a chosen SAMPLER down given SIGMAS."""

    model: Annotated[object, Socket("MODEL")]
    add_noise: bool = True
    noise_seed: Seed = 0
    cfg: Cfg = 8.0
    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    sampler: Annotated[object, Socket("SAMPLER")]
    sigmas: Annotated[object, Socket("SIGMAS")]
    latent_image: Annotated[object, Socket("LATENT")]

    def run(self, ctx):
        guider = CFGGuiderValue(self.model, placer(ctx))
        guider.set_conds(self.positive, self.negative)
        guider.set_cfg(self.cfg)
        noise = RandomNoiseValue(self.noise_seed) if self.add_noise else EmptyNoise()
        return run_guider(ctx, "SamplerCustom", noise, guider, self.sampler, self.sigmas, self.latent_image)


@node(category=CUSTOM, outputs=[Out("LATENT", "output"), Out("LATENT", "denoised_output")])
class SamplerCustomAdvanced(Node):
    """Sampling from NOISE with a GUIDER and a SAMPLER down SIGMAS."""

    noise: Annotated[object, Socket("NOISE")]
    guider: Annotated[object, Socket("GUIDER")]
    sampler: Annotated[object, Socket("SAMPLER")]
    sigmas: Annotated[object, Socket("SIGMAS")]
    latent_image: Annotated[object, Socket("LATENT")]

    def run(self, ctx):
        return run_guider(ctx, "SamplerCustomAdvanced", self.noise, self.guider, self.sampler, self.sigmas,
                          self.latent_image)


@node(category=f"{CUSTOM}/samplers", outputs=[Out("SAMPLER")])
class KSamplerSelect(Node):
    """The SAMPLER of a sampler name, with its default settings."""

    sampler_name: Annotated[str, Combo(list(SAMPLERS))]

    def run(self, ctx):
        return (sampler_object(self.sampler_name),)


@node(category=f"{CUSTOM}/guiders", outputs=[Out("GUIDER")])
class CFGGuider(Node):
    """Classifier-free guidance between positive and negative at scale cfg."""

    model: Annotated[object, Socket("MODEL")]
    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    cfg: Cfg = 8.0

    def run(self, ctx):
        guider = CFGGuiderValue(self.model, placer(ctx))
        guider.set_conds(self.positive, self.negative)
        guider.set_cfg(self.cfg)
        return (guider,)


@node(category=f"{CUSTOM}/guiders", outputs=[Out("GUIDER")])
class DualCFGGuider(Node):
    """Two guidance scales: cond1 against cond2, and cond2 against negative."""

    model: Annotated[object, Socket("MODEL")]
    cond1: Annotated[object, Socket("CONDITIONING")]
    cond2: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    cfg_conds: Cfg = 8.0
    cfg_cond2_negative: Cfg = 8.0
    style: Literal["regular", "nested"]

    def run(self, ctx):
        guider = DualCFGGuiderValue(self.model, placer(ctx))
        guider.set_conds(self.cond1, self.cond2, self.negative)
        guider.set_cfg(self.cfg_conds, self.cfg_cond2_negative, nested=self.style == "nested")
        return (guider,)


@node(category=f"{CUSTOM}/guiders", outputs=[Out("GUIDER")])
class BasicGuider(Node):
    """No guidance: the model's prediction for one conditioning (distilled models)."""

    model: Annotated[object, Socket("MODEL")]
    conditioning: Annotated[object, Socket("CONDITIONING")]

    def run(self, ctx):
        guider = BasicGuiderValue(self.model, placer(ctx))
        guider.set_conds(self.conditioning)
        return (guider,)


@node(category=f"{CUSTOM}/noise", outputs=[Out("NOISE")])
class RandomNoise(Node):
    """Seeded starting noise (the same as KSampler's for that seed)."""

    noise_seed: Seed = 0

    def run(self, ctx):
        return (RandomNoiseValue(self.noise_seed),)


@node(category=f"{CUSTOM}/noise", outputs=[Out("NOISE")])
class DisableNoise(Node):
    """No starting noise: continue from the latent as it is."""

    def run(self, ctx):
        return (EmptyNoise(),)


@node(category="_for_testing/custom_sampling/noise", outputs=[Out("LATENT")])
class AddNoise(Node):
    """Noise a latent to the level of the SIGMAS' span (their first minus last sigma)."""

    model: Annotated[object, Socket("MODEL")]
    noise: Annotated[object, Socket("NOISE")]
    sigmas: Annotated[object, Socket("SIGMAS")]
    latent_image: Annotated[object, Socket("LATENT")]

    def run(self, ctx):
        if len(self.sigmas) == 0:
            return (self.latent_image,)
        _check("AddNoise", self.noise, "generate_noise", "NOISE")
        samples = self.latent_image["samples"]
        noise = self.noise.generate_noise(self.latent_image)
        base = self.model.model
        scale = torch.abs(self.sigmas[0] - self.sigmas[-1]) if len(self.sigmas) > 1 else self.sigmas[0]
        if torch.count_nonzero(samples) > 0:  # an empty latent is not shifted
            samples = base.process_latent_in(samples)
        noisy = self.model.get_model_object("model_sampling").noise_scaling(scale, noise, samples)
        noisy = torch.nan_to_num(base.process_latent_out(noisy), nan=0.0, posinf=0.0, neginf=0.0)
        return ({**self.latent_image, "samples": noisy},)


@node(category="_for_testing", outputs=[Out("GUIDER")])
class PerpNegGuider(Node):
    """CFG with the negative's component along the positive removed (Perp-Neg, Armandpour et al. 2023)."""

    model: Annotated[object, Socket("MODEL")]
    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    empty_conditioning: Annotated[object, Socket("CONDITIONING")]
    cfg: Cfg = 8.0
    neg_scale: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=100.0)

    def run(self, ctx):
        guider = PerpNegGuiderValue(self.model, placer(ctx))
        guider.set_conds(self.positive, self.negative, self.empty_conditioning)
        guider.set_cfg(self.cfg, self.neg_scale)
        return (guider,)
