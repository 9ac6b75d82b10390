"""Classifier-free guidance over ComfyUI CONDITIONING lists, with ComfyUI's model_options hooks.

Each CONDITIONING entry ([context, options]) is evaluated on its area (and mask, strength, timestep
range); overlapping entries of one side are averaged with those weights (ConditioningCombine /
ConditioningSetArea semantics). Entries that fit together, positive and negative alike, go through the
network in one batched call; the negative side is skipped when cfg is 1 (unless a hook sets
"disable_cfg1_optimization"). A `Control` chain on an entry (ControlNet) is run on that batch each step
and its residuals are passed to the network.

`sampling_function` calls the hooks of model_options at ComfyUI's points and with its argument dicts:
"sampler_calc_cond_batch_function", "sampler_pre_cfg_function" (list), "sampler_cfg_function",
"sampler_post_cfg_function" (list) and, around each network call, "model_function_wrapper".
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from engine.models.wrappers import CALC_COND_BATCH, run_wrapped
from engine.sampling.gligen_conds import with_gligen_patch
from engine.sampling.hooks import place_hook_weights
from engine.sampling.model_options import run_model

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
    kwargs: dict  # network keyword arguments, batch-sized
    area: tuple[int, int, int, int] | None  # (h, w, y, x) in latent pixels; None: the whole latent
    mult: torch.Tensor  # weight over the area [B, C, h, w] (whole latent without mask: [1, 1, 1, 1])
    sigma_start: float
    sigma_end: float
    control: Control | None
    gligen: tuple | None = None  # ("position" | "empty", GLIGEN, boxes): a middle patch for this entry
    uuid: uuid.UUID = field(default_factory=uuid.uuid4)  # ComfyUI's per-entry id, in transformer_options["uuids"]
    hooks: tuple | None = None  # HOOKS whose weight patches apply while this entry is evaluated
    default: bool = False  # fills only the area its side's other entries leave (ConditioningSetDefaultCombine)


def repeat_to_batch(tensor: torch.Tensor, size: int, dim: int = 0) -> torch.Tensor:
    """`tensor` cut, or cycled whole, along `dim` to `size` entries: a conditioning, mask or image batch
    fitted to the batch it is used with (the one helper nodes and comfy.utils use too)."""
    count = tensor.shape[dim]
    if count > size:
        return tensor.narrow(dim, 0, size)
    if count < size:
        repeats = [1] * tensor.ndim
        repeats[dim] = -(-size // count)
        return tensor.repeat(*repeats).narrow(dim, 0, size)
    return tensor


def _mask_bounds(mask: torch.Tensor, height: int, width: int) -> tuple[int, int, int, int]:
    """The box (h, w, y, x) around a mask's non-zero latent pixels, at least 8 x 8 (ConditioningSetMask's
    "mask bounds"); an empty mask gives an 8 x 8 box at the corner, where it weighs nothing."""
    mask = mask.float().reshape(-1, *mask.shape[-2:])
    if mask.shape[-2:] != (height, width):
        mask = F.interpolate(mask[:, None], size=(height, width), mode="bilinear")[:, 0]
    ys, xs = torch.where(mask.abs().amax(dim=0) != 0)
    if len(ys) == 0:
        return (8, 8, 0, 0)
    y, x = int(ys.min()), int(xs.min())
    return (max(8, int(ys.max()) - y + 1), max(8, int(xs.max()) - x + 1), y, x)


def _area(options: dict, height: int, width: int) -> tuple[int, int, int, int] | None:
    """(h, w, y, x) of an entry's area, or None for the whole latent at any size (as in ComfyUI, a sampler
    may resize the latent as it goes)."""
    if options.get("set_area_to_bounds") and "mask" in options:
        return _mask_bounds(options["mask"], height, width)
    area = options.get("area")
    if area is None:
        return None if "mask" not in options else (height, width, 0, 0)
    if area[0] == "percentage":  # sizes then offsets; a video box's (frames, h, w, z, y, x) reads as ComfyUI does
        fractions = area[1:]
        h, w, y, x = (*fractions[:2], *fractions[len(fractions) // 2:][:2])
        return (max(1, round(h * height)), max(1, round(w * width)), round(y * height), round(x * width))
    h, w, y, x = area
    return (min(h, height - y), min(w, width - x), y, x)


def _weights(options: dict, area, shape) -> torch.Tensor:
    """strength x (mask, or an area whose inner edges fade in over FEATHER pixels)."""
    if area is None:
        return torch.full((1, 1, 1, 1), float(options.get("strength", 1.0)))
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


def prepare_conds(model, conditioning: list, shape: torch.Size, device) -> list[_Entry]:
    """Turn a CONDITIONING list into entries with network kwargs, area weights and sigma ranges (the timestep
    range, narrowed to the part of the run a scheduled CLIP encoded the entry for)."""
    ms = model.model_sampling
    entries = []
    for context, options in conditioning:
        area = _area(options, shape[2], shape[3])
        kwargs = {"context": context, **model.cond_kwargs(options, shape)}
        kwargs = {k: _crop(repeat_to_batch(v, shape[0]), k, area).to(device) for k, v in kwargs.items()}
        entries.append(_Entry(
            kwargs=kwargs, area=area, mult=_weights(options, area, shape).to(device),
            sigma_start=ms.percent_to_sigma(max(options.get("start_percent", 0.0),
                                                options.get("clip_start_percent", 0.0))),
            sigma_end=ms.percent_to_sigma(min(options.get("end_percent", 1.0), options.get("clip_end_percent", 1.0))),
            control=options.get("control"), gligen=options.get("gligen"), hooks=options.get("hooks"),
            default=bool(options.get("default"))))
    return entries


def _crop(value: torch.Tensor, key: str, area) -> torch.Tensor:
    if area is None:
        return value
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


def with_defaults(todo: list[tuple[int, _Entry]], x: torch.Tensor) -> list[tuple[int, _Entry]]:
    """The active entries, each side's default entries weighted by what its other entries leave uncovered
    (1 minus their weights, at least 0), and left out where nothing is left."""
    defaults = [(k, e) for k, e in todo if e.default]
    if not defaults:
        return todo
    regular = [(k, e) for k, e in todo if not e.default]
    left: dict[int, torch.Tensor] = {}
    for side in dict.fromkeys(k for k, _ in defaults):
        free = torch.ones_like(x)
        for k, e in regular:
            if k == side:
                h, w, top, start = e.area or (x.shape[2], x.shape[3], 0, 0)
                free[:, :, top:top + h, start:start + w] -= e.mult
        left[side] = free.clamp_(min=0)
    return regular + [(k, replace(e, mult=left[k], area=None)) for k, e in defaults if left[k].max() > 0]


def _compatible(a: _Entry, b: _Entry) -> bool:
    if (a.area and a.area[:2]) != (b.area and b.area[:2]) or a.control is not b.control or a.kwargs.keys() != b.kwargs.keys():
        return False
    if a.gligen is not None or b.gligen is not None:  # each entry's GLIGEN patch is its own network call
        return a is b
    if a.hooks != b.hooks:
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


def calc_cond_batch(model, sides: list[list[_Entry] | None], x: torch.Tensor, sigma: torch.Tensor,
                    model_options: dict | None = None) -> list[torch.Tensor]:
    """x0 per side: area-weighted average of its active entries, in as few batched network calls as fit.

    A side given as None is not evaluated (its result is zeros, as in ComfyUI). Each network call goes
    through `run_model` (transformer_options and the "model_function_wrapper" of model_options); the
    whole step through the "calc_cond_batch" wrappers (ComfyUI's WrappersMP.CALC_COND_BATCH), once per
    context window when model_options has a "context_handler" (engine.sampling.context_windows).
    """
    model_options = model_options or {}
    handler = model_options.get("context_handler")
    if handler is not None and handler.should_use_context(x):
        return handler.execute(_calc_cond_batch_wrapped, model, sides, x, sigma, model_options)
    return _calc_cond_batch_wrapped(model, sides, x, sigma, model_options)


def _calc_cond_batch_wrapped(model, sides, x, sigma, model_options: dict) -> list[torch.Tensor]:
    return run_wrapped(_calc_cond_batch, None, model_options.get("transformer_options"), CALC_COND_BATCH,
                       model, sides, x, sigma, model_options)


def _calc_cond_batch(model, sides: list[list[_Entry] | None], x: torch.Tensor, sigma: torch.Tensor,
                     model_options: dict) -> list[torch.Tensor]:
    level = float(sigma[0])
    todo = [(k, e) for k, entries in enumerate(sides) if entries
            for e in entries if e.sigma_end <= level <= e.sigma_start]
    todo = with_defaults(todo, x)
    hooked = any(e.hooks for _, e in todo)
    schedule = model_options.get("transformer_options", {}).get("sample_sigmas")
    outs = [torch.zeros_like(x) for _ in sides]
    counts = [torch.full_like(x, 1e-37) for _ in sides]
    while todo:
        batch = [(k, e) for k, e in todo if _compatible(todo[0][1], e)]
        todo = [(k, e) for k, e in todo if not any(e is g for _, g in batch)]
        group = [e for _, e in batch]
        cond_or_uncond = [k for k, _ in batch]
        regions = [e.area or (x.shape[2], x.shape[3], 0, 0) for e in group]
        xs = torch.cat([x[:, :, top:top + h, left:left + w] for h, w, top, left in regions])
        sigmas = sigma.repeat(len(group))
        kwargs = _batch_kwargs(group)
        control = _control_residuals(group[0].control, model.model_sampling, xs, sigmas, kwargs)
        options = with_gligen_patch(model_options, group[0].gligen, xs.shape, xs.device)
        if hooked:
            place_hook_weights(model, group[0].hooks, level, schedule)
        out = run_model(model, options, xs, sigmas, {**kwargs, "control": control}, cond_or_uncond,
                        [e.uuid for e in group])
        for k, e, (h, w, top, left), d in zip(cond_or_uncond, group, regions, out.chunk(len(group))):
            outs[k][:, :, top:top + h, left:left + w] += d * e.mult
            counts[k][:, :, top:top + h, left:left + w] += e.mult
    if hooked:
        place_hook_weights(model, None, level, schedule)
    return [o / c for o, c in zip(outs, counts)]


def cfg_function(model, cond_pred, uncond_pred, cond_scale, x, sigma, model_options=None, cond=None, uncond=None):
    """uncond + cfg * (cond - uncond), or the model's `sampler_cfg_function`; then each
    `sampler_post_cfg_function` in turn (ComfyUI's hooks, argument dicts and order)."""
    model_options = model_options or {}
    if "sampler_cfg_function" in model_options:
        result = x - model_options["sampler_cfg_function"]({
            "cond": x - cond_pred, "uncond": x - uncond_pred, "cond_scale": cond_scale, "timestep": sigma,
            "input": x, "sigma": sigma, "cond_denoised": cond_pred, "uncond_denoised": uncond_pred,
            "model": model, "model_options": model_options, "input_cond": cond, "input_uncond": uncond})
    else:
        result = uncond_pred + (cond_pred - uncond_pred) * _per_sample(cond_scale, x)
    for fn in model_options.get("sampler_post_cfg_function", []):
        result = fn({"denoised": result, "cond": cond, "uncond": uncond, "cond_scale": cond_scale, "model": model,
                     "uncond_denoised": uncond_pred, "cond_denoised": cond_pred, "sigma": sigma,
                     "model_options": model_options, "input": x})
    return result


def _per_sample(cfg, x: torch.Tensor):
    """A cfg as a float or, given per sample [B], shaped to broadcast over x."""
    if torch.is_tensor(cfg):
        return cfg.to(x).reshape(-1, *([1] * (x.ndim - 1)))
    return cfg


def skips_uncond(cond_scale, model_options: dict) -> bool:
    """ComfyUI's cfg = 1 shortcut: the negative side is not evaluated unless a hook turned that off."""
    return (not torch.is_tensor(cond_scale) and math.isclose(cond_scale, 1.0)
            and not model_options.get("disable_cfg1_optimization", False))


def sampling_function(model, x, sigma, uncond, cond, cond_scale, model_options=None, seed=None):
    """The guided x0 of one step: both sides (or ComfyUI's `sampler_calc_cond_batch_function`), each
    `sampler_pre_cfg_function` on the pair, then `cfg_function`."""
    model_options = model_options or {}
    uncond_ = None if skips_uncond(cond_scale, model_options) else uncond
    conds = [cond, uncond_]
    if "sampler_calc_cond_batch_function" in model_options:
        out = model_options["sampler_calc_cond_batch_function"]({
            "conds": conds, "input": x, "sigma": sigma, "model": model, "model_options": model_options})
    else:
        out = calc_cond_batch(model, conds, x, sigma, model_options)
    for fn in model_options.get("sampler_pre_cfg_function", []):
        out = fn({"conds": conds, "conds_out": out, "cond_scale": cond_scale, "timestep": sigma, "input": x,
                  "sigma": sigma, "model": model, "model_options": model_options})
    return cfg_function(model, out[0], out[1], cond_scale, x, sigma, model_options, cond, uncond_)
