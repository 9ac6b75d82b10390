"""Classifier-free guidance over ComfyUI CONDITIONING lists, as one sigma-space denoiser for the samplers.

Each CONDITIONING entry ([context, options]) is evaluated on its area (and mask, strength, timestep
range); overlapping entries of one side are averaged with those weights (ConditioningCombine /
ConditioningSetArea semantics). Entries that fit together, positive and negative alike, go through the
network in one batched call; the negative side is skipped when cfg is 1. A `Control` chain on an entry
(ControlNet) is run on that batch each step and its residuals are passed to the network.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.sampling.model_options import model_options_of, run_model

FEATHER = 8  # latent pixels over which an area's inner edges fade in (ConditioningSetArea)


@dataclass(frozen=True)
class Control:
    """A residual provider run at each step inside [start_percent, end_percent] of the schedule.

    `fn(x, sigma, cond) -> residuals | None` gets the noisy batch, per-sample sigma and the batched network
    keyword arguments (context, ...); residuals are {"input"|"middle"|"output": [Tensor | None, ...]}.
    Residuals of a chain (`previous`) are summed.
    """

    fn: Callable[[torch.Tensor, torch.Tensor, dict], dict | None]
    start_percent: float = 0.0
    end_percent: float = 1.0
    previous: Control | None = None


@dataclass
class _Entry:
    side: int  # 0 positive, 1 negative
    kwargs: dict  # network keyword arguments, batch-sized
    area: tuple[int, int, int, int]  # (h, w, y, x) in latent pixels
    mult: torch.Tensor  # weight over the area [B, C, h, w]
    sigma_start: float
    sigma_end: float
    control: Control | None


def repeat_to_batch(t: torch.Tensor, batch: int) -> torch.Tensor:
    if t.shape[0] == batch:
        return t
    return t.repeat(math.ceil(batch / t.shape[0]), *([1] * (t.ndim - 1)))[:batch]


def _area(options: dict, height: int, width: int) -> tuple[int, int, int, int]:
    area = options.get("area")
    if area is None:
        return (height, width, 0, 0)
    if area[0] == "percentage":
        _, h, w, y, x = area
        return (max(1, round(h * height)), max(1, round(w * width)), round(y * height), round(x * width))
    h, w, y, x = area
    return (min(h, height - y), min(w, width - x), y, x)


def _weights(options: dict, area, shape) -> torch.Tensor:
    """strength x (mask, or an area whose inner edges fade in over FEATHER pixels)."""
    b, c, height, width = shape
    h, w, y, x = area
    mult = torch.ones(b, c, h, w)
    if "mask" in options:
        mask = options["mask"].float()
        mask = mask.reshape(-1, *mask.shape[-2:])
        if mask.shape[-2:] != (height, width):
            mask = F.interpolate(mask[:, None], size=(height, width), mode="bilinear")[:, 0]
        mask = repeat_to_batch(mask[:, y:y + h, x:x + w], b) * options.get("mask_strength", 1.0)
        mult = mult * mask[:, None].cpu()
    elif "area" in options:
        for t in range(FEATHER):
            fade = (t + 1) / FEATHER
            if y != 0:
                mult[:, :, t] *= fade
            if y + h < height:
                mult[:, :, h - 1 - t] *= fade
            if x != 0:
                mult[:, :, :, t] *= fade
            if x + w < width:
                mult[:, :, :, w - 1 - t] *= fade
    return mult * options.get("strength", 1.0)


def prepare_conds(model, conditioning: list, side: int, shape: torch.Size, device) -> list[_Entry]:
    """Turn a CONDITIONING list into entries with network kwargs, area weights and sigma ranges."""
    ms = model.model_sampling
    entries = []
    for context, options in conditioning:
        area = _area(options, shape[2], shape[3])
        kwargs = {"context": context, **model.cond_kwargs(options, shape)}
        kwargs = {k: _crop(repeat_to_batch(v, shape[0]), k, area).to(device) for k, v in kwargs.items()}
        entries.append(_Entry(
            side=side, kwargs=kwargs, area=area, mult=_weights(options, area, shape).to(device),
            sigma_start=ms.percent_to_sigma(options.get("start_percent", 0.0)),
            sigma_end=ms.percent_to_sigma(options.get("end_percent", 1.0)),
            control=options.get("control")))
    return entries


def _crop(value: torch.Tensor, key: str, area) -> torch.Tensor:
    h, w, y, x = area
    return value[:, :, y:y + h, x:x + w] if key == "concat" else value


def _control_residuals(control: Control | None, ms, x, sigma, kwargs) -> dict | None:
    merged = None
    while control is not None:
        low, high = ms.percent_to_sigma(control.end_percent), ms.percent_to_sigma(control.start_percent)
        out = control.fn(x, sigma, kwargs) if low <= float(sigma[0]) <= high else None
        if out is not None:
            merged = out if merged is None else _merge_residuals(merged, out)
        control = control.previous
    return merged


def _merge_residuals(a: dict, b: dict) -> dict:
    """Sum two residual dicts entry by entry (lists aligned at their start; None or missing adds nothing)."""
    merged = {}
    for key in a.keys() | b.keys():
        x, y = a.get(key, []), b.get(key, [])
        merged[key] = [p if q is None else q if p is None else p + q
                       for p, q in zip(x + [None] * (len(y) - len(x)), y + [None] * (len(x) - len(y)))]
    return merged


def _compatible(a: _Entry, b: _Entry) -> bool:
    if a.area[:2] != b.area[:2] or a.control is not b.control or a.kwargs.keys() != b.kwargs.keys():
        return False
    for key, va in a.kwargs.items():
        vb = b.kwargs[key]
        if key == "context" and va.shape != vb.shape:
            la, lb = va.shape[1], vb.shape[1]
            if va.shape[2] != vb.shape[2] or math.lcm(la, lb) // min(la, lb) > 4:
                return False
        elif va.shape != vb.shape:
            return False
    return True


def _batch_kwargs(group: list[_Entry]) -> dict:
    out = {}
    for key in group[0].kwargs:
        values = [e.kwargs[key] for e in group]
        if key == "context":
            length = math.lcm(*(v.shape[1] for v in values))
            values = [v.repeat(1, length // v.shape[1], 1) for v in values]
        out[key] = torch.cat(values)
    return out


def calc_cond_batch(model, sides: list[list[_Entry]], x: torch.Tensor, sigma: torch.Tensor,
                    model_options: dict | None = None) -> list[torch.Tensor]:
    """x0 per side: area-weighted average of its active entries, in as few batched network calls as fit.
    `model_options` (default: the model's own) carries ComfyUI's patches and unet wrapper."""
    options = model_options_of(model) if model_options is None else model_options
    level = float(sigma[0])
    todo = [e for entries in sides for e in entries if e.sigma_end <= level <= e.sigma_start]
    outs = [torch.zeros_like(x) for _ in sides]
    counts = [torch.full_like(x, 1e-37) for _ in sides]
    while todo:
        group = [e for e in todo if _compatible(todo[0], e)]
        todo = [e for e in todo if not any(e is g for g in group)]
        xs = torch.cat([x[:, :, top:top + h, left:left + w] for h, w, top, left in (e.area for e in group)])
        sigmas = sigma.repeat(len(group))
        kwargs = _batch_kwargs(group)
        control = _control_residuals(group[0].control, model.model_sampling, xs, sigmas, kwargs)
        denoised = run_model(model, options, xs, sigmas, {**kwargs, "control": control},
                             [e.side for e in group]).chunk(len(group))
        for e, d in zip(group, denoised):
            h, w, top, left = e.area
            outs[e.side][:, :, top:top + h, left:left + w] += d * e.mult
            counts[e.side][:, :, top:top + h, left:left + w] += e.mult
    return [o / c for o, c in zip(outs, counts)]


def video_linear_cfg(min_cfg: float) -> Callable[[dict], torch.Tensor]:
    """A `sampler_cfg_function` whose guidance ramps linearly over the batch (frames) from min_cfg to cfg."""

    def linear(args: dict) -> torch.Tensor:
        cond, uncond = args["cond"], args["uncond"]
        ramp = torch.linspace(min_cfg, args["cond_scale"], cond.shape[0], device=cond.device)
        return uncond + ramp.reshape(-1, *([1] * (cond.ndim - 1))) * (cond - uncond)

    return linear


class CFGDenoiser:
    """denoised = uncond + cfg * (cond - uncond); cfg may be a float or a per-sample tensor [B].

    A model's `sampler_cfg_function(args)` (ComfyUI's model option) replaces the formula: it receives
    {"cond", "uncond"} as noise predictions x - x0 plus "cond_scale", "input", "sigma", "cond_denoised",
    "uncond_denoised", and returns the guided noise prediction. The model's model_options may also hold
    ComfyUI's "sampler_pre_cfg_function" list (rewrites [cond, uncond] x0 before guidance) and
    "sampler_post_cfg_function" list (rewrites the guided x0; PAG and SAG work there); their "conds" /
    "cond" / "uncond" are this denoiser's prepared entries, which `calc_cond_batch` takes back.
    """

    def __init__(self, model, positive: list, negative: list, cfg, shape: torch.Size, device):
        self.model, self.cfg = model, cfg
        self.model_options = model_options_of(model)
        self.cfg_function = getattr(model, "sampler_cfg_function", None)
        skip_uncond = (not torch.is_tensor(cfg) and math.isclose(cfg, 1.0) and self.cfg_function is None
                       and not self.model_options.get("disable_cfg1_optimization", False))
        self.sides = [prepare_conds(model, positive, 0, shape, device)]
        if not skip_uncond:
            self.sides.append(prepare_conds(model, negative, 1, shape, device))

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **extra) -> torch.Tensor:
        preds = calc_cond_batch(self.model, self.sides, x, sigma)
        post = self.model_options.get("sampler_post_cfg_function", [])
        pre = self.model_options.get("sampler_pre_cfg_function", [])
        if len(preds) == 1 and not (post or pre):
            return preds[0]
        conds = [self.sides[0], self.sides[1] if len(self.sides) > 1 else None]
        if len(preds) == 1:
            preds = [preds[0], torch.zeros_like(x)]  # ComfyUI's uncond output when the cfg-1 shortcut skips it
        common = {"cond_scale": self.cfg, "input": x, "sigma": sigma, "timestep": sigma, "model": self.model,
                  "model_options": self.model_options}
        for fn in pre:
            preds = fn({**common, "conds": conds, "conds_out": preds})
        cond, uncond = preds
        guided = self._guided(x, sigma, cond, uncond) if conds[1] is not None or self.cfg_function else cond
        for fn in post:
            guided = fn({**common, "denoised": guided, "cond": conds[0], "uncond": conds[1],
                         "cond_denoised": cond, "uncond_denoised": uncond})
        return guided

    def _guided(self, x: torch.Tensor, sigma: torch.Tensor, cond: torch.Tensor, uncond: torch.Tensor):
        if self.cfg_function is not None:
            return x - self.cfg_function({
                "cond": x - cond, "uncond": x - uncond, "cond_scale": self.cfg, "input": x, "sigma": sigma,
                "timestep": sigma, "cond_denoised": cond, "uncond_denoised": uncond, "model": self.model,
                "model_options": self.model_options})
        cfg = self.cfg
        if torch.is_tensor(cfg):
            cfg = cfg.to(x).reshape(-1, *([1] * (x.ndim - 1)))
        return uncond + (cond - uncond) * cfg
