"""GUIDER values: what turns a MODEL and conditioning into the x0 denoiser a SAMPLER walks (ComfyUI's
comfy.samplers.CFGGuider and the custom-sampling guiders built on it).

A guider keeps `model_patcher` (the MODEL value), `model_options` (its options dict), the conditioning
sets by name and cfg; `sample(noise, latent_image, sampler, sigmas, ...)` places the model (the
`place` context given at construction, see Place; by default the MODEL is a sampling model), prepares the
conditioning for the latent's shape, runs the sampler with extra_args {"model_options", "seed"} and
returns the latent in LATENT space. Subclasses override `predict_noise(x, sigma, model_options, seed)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import torch

from engine.models.wrappers import OUTER_SAMPLE, PREDICT_NOISE, run_wrapped
from engine.sampling.cfg import calc_cond_batch, cfg_function, prepare_conds, sampling_function
from engine.sampling.gligen_conds import share_gligen_with_negative
from engine.sampling.model_options import model_options_of

# place(model_patcher, conds, batch) -> context yielding (sampling model, conds bound to it, e.g. ControlNets)
Place = Callable[[object, dict, int], AbstractContextManager]


@contextmanager
def already_placed(model, conds: dict, batch: int) -> Iterator[tuple[object, dict]]:
    """The default placement: the MODEL value is a sampling model already (SamplingModel)."""
    yield model, conds


def with_seed(conditioning: list, seed: int | None) -> list:
    """Each entry with the run's seed among its options: conditioning that draws noise (unCLIP's embedding
    augmentation) seeds from it, as ComfyUI hands `seed` to a model's extra_conds."""
    if seed is None:
        return conditioning
    return [[embedding, {**options, "seed": seed}] for embedding, options in conditioning]


class CFGGuider:
    """Classifier-free guidance between "positive" and "negative" at scale cfg."""

    def __init__(self, model_patcher, place: Place | None = None):
        self.model_patcher = model_patcher
        self.model_options = model_options_of(model_patcher)
        self.place = place or already_placed
        self.original_conds: dict[str, list] = {}
        self.cfg = 1.0

    def set_conds(self, positive: list, negative: list) -> None:
        self.inner_set_conds({"positive": positive, "negative": negative})

    def set_cfg(self, cfg) -> None:
        self.cfg = cfg

    def inner_set_conds(self, conds: dict[str, list]) -> None:
        self.original_conds.update({name: list(c) for name, c in conds.items()})

    def __call__(self, x, sigma, model_options=None, seed=None) -> torch.Tensor:
        """predict_noise through the MODEL's "predict_noise" wrappers (ComfyUI's WrappersMP.PREDICT_NOISE)."""
        return run_wrapped(self.predict_noise, self, self.model_options.get("transformer_options"), PREDICT_NOISE,
                           x, sigma, model_options or {}, seed)

    def predict_noise(self, x, sigma, model_options, seed=None) -> torch.Tensor:
        return sampling_function(self.inner_model, x, sigma, self.conds.get("negative"), self.conds.get("positive"),
                                 self.cfg, model_options, seed)

    def sample(self, noise: torch.Tensor, latent_image: torch.Tensor, sampler, sigmas: torch.Tensor,
               denoise_mask: torch.Tensor | None = None, callback=None, disable_pbar: bool = False,
               seed: int | None = None) -> torch.Tensor:
        """Sample from `noise` around `latent_image` (both in LATENT space) down `sigmas`, through the MODEL's
        "outer_sample" wrappers (ComfyUI's WrappersMP.OUTER_SAMPLE, called with this guider as class_obj)."""
        if sigmas.shape[-1] == 0:
            return latent_image
        return run_wrapped(self.outer_sample, self, self.model_options.get("transformer_options"), OUTER_SAMPLE,
                           noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed)

    def outer_sample(self, noise: torch.Tensor, latent_image: torch.Tensor, sampler, sigmas: torch.Tensor,
                     denoise_mask: torch.Tensor | None, callback, disable_pbar: bool,
                     seed: int | None) -> torch.Tensor:
        """The run itself; reads self.model_options afresh, which an outer_sample wrapper may replace."""
        with self.place(self.model_patcher, self.original_conds, noise.shape[0]) as (inner_model, conds):
            device = getattr(inner_model, "device", None) or noise.device
            noise, latent, sigmas = noise.to(device), latent_image.to(device, torch.float32), sigmas.to(device)
            if torch.count_nonzero(latent) > 0:  # an empty latent is not shifted
                latent = inner_model.process_latent_in(latent)
            if denoise_mask is not None:
                from engine.sampling.inpaint import prepare_mask

                denoise_mask = prepare_mask(denoise_mask, noise.shape, device)
            self.inner_model = inner_model
            self.conds = {name: prepare_conds(inner_model, with_seed(entries, seed), noise.shape, device)
                          for name, entries in share_gligen_with_negative(conds).items()}
            options = {**self.model_options}
            options["transformer_options"] = {**options.get("transformer_options", {}), "sample_sigmas": sigmas}
            extra_args = {"model_options": options, "seed": seed}
            try:
                samples = sampler.sample(self, sigmas, extra_args, callback, noise, latent, denoise_mask,
                                         disable_pbar)
            finally:
                del self.inner_model, self.conds
            return inner_model.process_latent_out(samples.to(torch.float32))


class BasicGuider(CFGGuider):
    """No guidance: the x0 of one conditioning (ComfyUI's Guider_Basic, for distilled models)."""

    def set_conds(self, positive: list) -> None:  # type: ignore[override]
        self.inner_set_conds({"positive": positive})


class DualCFGGuider(CFGGuider):
    """Two guidance scales: cond1 against cond2 and cond2 against negative, side by side ("regular") or
    the first applied inside the second ("nested")."""

    def set_cfg(self, cfg1: float, cfg2: float, nested: bool = False) -> None:  # type: ignore[override]
        self.cfg1, self.cfg2, self.nested = cfg1, cfg2, nested

    def set_conds(self, positive: list, middle: list, negative: list) -> None:  # type: ignore[override]
        middle = [[c, {**o, "prompt_type": "negative"}] for c, o in middle]
        self.inner_set_conds({"negative": negative, "middle": middle, "positive": positive})

    def predict_noise(self, x, sigma, model_options, seed=None) -> torch.Tensor:
        negative, middle, positive = (self.conds.get(k) for k in ("negative", "middle", "positive"))
        if self.nested:
            out = calc_cond_batch(self.inner_model, [negative, middle, positive], x, sigma, model_options)
            text = cfg_function(self.inner_model, out[2], out[1], self.cfg1, x, sigma, model_options, positive, middle)
            return out[0] + self.cfg2 * (text - out[0])
        if not model_options.get("disable_cfg1_optimization", False) and math.isclose(self.cfg2, 1.0):
            negative = None
            if math.isclose(self.cfg1, 1.0):
                middle = None
        out = calc_cond_batch(self.inner_model, [negative, middle, positive], x, sigma, model_options)
        guided = cfg_function(self.inner_model, out[1], out[0], self.cfg2, x, sigma, model_options, middle, negative)
        return guided + (out[2] - out[1]) * self.cfg1


def perp_neg(x, pos_x0, neg_x0, empty_x0, neg_scale: float, cond_scale):
    """Perp-Neg guidance (Armandpour et al. 2023): the negative's direction from the empty prompt, minus
    its projection on the positive's, pushed away from at neg_scale."""
    pos, neg = pos_x0 - empty_x0, neg_x0 - empty_x0
    perp = neg - (torch.mul(neg, pos).sum() / torch.norm(pos) ** 2) * pos
    return empty_x0 + cond_scale * (pos - perp * neg_scale)


class PerpNegGuider(CFGGuider):
    """CFG around the empty prompt with Perp-Neg's negative (ComfyUI's Guider_PerpNeg): positive, negative
    and empty prompt in one batch, then the pre- and post-CFG hooks as ComfyUI runs them."""

    def set_conds(self, positive: list, negative: list, empty_negative_prompt: list) -> None:  # type: ignore[override]
        empty = [[c, {**o, "prompt_type": "negative"}] for c, o in empty_negative_prompt]
        self.inner_set_conds({"positive": positive, "empty_negative_prompt": empty, "negative": negative})

    def set_cfg(self, cfg: float, neg_scale: float) -> None:  # type: ignore[override]
        self.cfg, self.neg_scale = cfg, neg_scale

    def predict_noise(self, x, sigma, model_options, seed=None) -> torch.Tensor:
        positive, negative, empty = (self.conds.get(k) for k in ("positive", "negative", "empty_negative_prompt"))
        if not model_options.get("disable_cfg1_optimization", False) and math.isclose(self.neg_scale, 0.0):
            negative = None
            if math.isclose(self.cfg, 1.0):
                empty = None
        conds = [positive, negative, empty]
        out = calc_cond_batch(self.inner_model, conds, x, sigma, model_options)
        for fn in model_options.get("sampler_pre_cfg_function", []):
            out = fn({"conds": conds, "conds_out": out, "cond_scale": self.cfg, "timestep": sigma, "input": x,
                      "sigma": sigma, "model": self.inner_model, "model_options": model_options})
        pos_x0, neg_x0, empty_x0 = out
        result = perp_neg(x, pos_x0, neg_x0, empty_x0, self.neg_scale, self.cfg)
        for fn in model_options.get("sampler_post_cfg_function", []):
            result = fn({"denoised": result, "cond": positive, "uncond": negative, "cond_scale": self.cfg,
                         "model": self.inner_model, "uncond_denoised": neg_x0, "cond_denoised": pos_x0,
                         "sigma": sigma, "model_options": model_options, "input": x, "empty_cond": empty,
                         "empty_cond_denoised": empty_x0})
        return result
