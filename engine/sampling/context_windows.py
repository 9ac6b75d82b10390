"""Context windows (ComfyUI's ContextWindowsManual): evaluate a long latent in overlapping windows.

When a MODEL's model_options carry a "context_handler" and the latent is longer than the window along the
handler's dimension (frames in the batch for dim 0, in a video latent for dim 2), every step's network
evaluation runs once per window on that slice of the latent, sigma and conditioning, and the window results
are blended back with per-position weights ("pyramid", "flat", "overlap-linear", or the running
"relative" average). The window lists follow ComfyUI's four schedules; the uniform ones move with the
sampling step (the step is found in transformer_options["sample_sigmas"]).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import torch

log = logging.getLogger(__name__)

SCHEDULES = ["standard_static", "standard_uniform", "looped_uniform", "batched"]
FUSE_METHODS = ["pyramid", "relative", "flat", "overlap-linear"]


def ordered_halving(step: int) -> float:
    """The step's 64 bits reversed, as a fraction of 2**64: 0, 1/2, 1/4, 3/4, 1/8, ... for steps 0, 1, 2, ..."""
    return int(f"{step:064b}"[::-1], 2) / (1 << 64)


def _uniform(frames: int, length: int, overlap: int, stride: int, step: int, end_extra: int) -> list[list[int]]:
    """Windows at every power-of-two spacing up to `stride`, shifted by the step's ordered halving, indices
    taken modulo `frames` (they may wrap around)."""
    stride = min(stride, math.ceil(math.log2(frames / length)) + 1)
    shift = ordered_halving(step)
    windows = []
    for spacing in (1 << k for k in range(stride)):
        pad = round(frames * shift)
        for start in range(int(shift * spacing) + pad, frames + pad + end_extra, length * spacing - overlap):
            windows.append([i % frames for i in range(start, start + length * spacing, spacing)])
    return windows


def _wraps_at(window: list[int], frames: int) -> int | None:
    for i in range(1, len(window)):
        if window[i] % frames < window[i - 1] % frames:
            return i
    return None


def _moved_to_end(window: list[int], frames: int) -> list[int]:
    relative = [(v - window[0] + frames) % frames for v in window]
    return [v + frames - relative[-1] - 1 for v in relative]


def looped_uniform(frames: int, handler: ContextHandler, step: int) -> list[list[int]]:
    if frames < handler.context_length:
        return [list(range(frames))]
    end_extra = 0 if handler.closed_loop else -handler.context_overlap
    return _uniform(frames, handler.context_length, handler.context_overlap, handler.context_stride, step, end_extra)


def standard_uniform(frames: int, handler: ContextHandler, step: int) -> list[list[int]]:
    """Uniform windows that do not wrap: a wrapping window is slid to the end (and a window starting at the
    wrap point is added when the next window lacks it); repeated windows are dropped."""
    if frames <= handler.context_length:
        return [list(range(frames))]
    windows = _uniform(frames, handler.context_length, handler.context_overlap, handler.context_stride, step,
                       -handler.context_overlap)
    repeated, i = [], 0
    while i < len(windows):
        wrap = _wraps_at(windows[i], frames)
        if wrap is not None:
            value = windows[i][wrap]
            windows[i] = _moved_to_end(windows[i], frames)
            if value not in windows[(i + 1) % len(windows)]:
                windows.insert(i + 1, list(range(value, value + handler.context_length)))
        if windows[i] in windows[:i]:
            repeated.append(i)
        i += 1
    return [w for i, w in enumerate(windows) if i not in repeated]


def standard_static(frames: int, handler: ContextHandler, step: int) -> list[list[int]]:
    if frames <= handler.context_length:
        return [list(range(frames))]
    length, windows = handler.context_length, []
    for start in range(0, frames, length - handler.context_overlap):
        if start + length >= frames:
            windows.append(list(range(frames - length, frames)))
            break
        windows.append(list(range(start, start + length)))
    return windows


def batched(frames: int, handler: ContextHandler, step: int) -> list[list[int]]:
    if frames <= handler.context_length:
        return [list(range(frames))]
    return [list(range(s, min(s + handler.context_length, frames))) for s in range(0, frames, handler.context_length)]


WINDOWS: dict[str, Callable[[int, ContextHandler, int], list[list[int]]]] = {
    "standard_static": standard_static, "standard_uniform": standard_uniform,
    "looped_uniform": looped_uniform, "batched": batched}


def pyramid_weights(length: int, window: list[int], frames: int, overlap: int) -> torch.Tensor:
    """1, 2, ... up to the middle and back down (FreeNoise's weighted average)."""
    half = (length + 1) // 2
    rising = list(range(1, half + 1))
    return torch.tensor(rising + rising[::-1][length % 2:], dtype=torch.float32)


def flat_weights(length: int, window: list[int], frames: int, overlap: int) -> torch.Tensor:
    return torch.ones(length)


def overlap_linear_weights(length: int, window: list[int], frames: int, overlap: int) -> torch.Tensor:
    """1 except linear ramps over the overlap on the sides that meet another window."""
    weights = torch.ones(length)
    if min(window) > 0:
        weights[:overlap] = torch.linspace(1e-37, 1, overlap)
    if max(window) < frames - 1:
        weights[-overlap:] = torch.linspace(1, 1e-37, overlap)
    return weights


FUSE_WEIGHTS = {"pyramid": pyramid_weights, "flat": flat_weights, "overlap-linear": overlap_linear_weights}


def _along(values: torch.Tensor, dim: int, ndim: int) -> torch.Tensor:
    return values.reshape([1] * dim + [-1] + [1] * (ndim - dim - 1))


def _index(t: torch.Tensor, dim: int, window: list[int]) -> torch.Tensor:
    return t[(slice(None),) * dim + (window,)]


@dataclass
class ContextHandler:
    """ComfyUI's IndexListContextHandler settings; `execute` replaces one step's calc_cond_batch."""

    context_schedule: str
    fuse_method: str
    context_length: int = 1
    context_overlap: int = 0
    context_stride: int = 1
    closed_loop: bool = False
    dim: int = 0
    callbacks: dict = field(default_factory=dict)

    def should_use_context(self, x: torch.Tensor) -> bool:
        if x.size(self.dim) > self.context_length:
            log.info("Using context windows %d for %d frames.", self.context_length, x.size(self.dim))
            return True
        return False

    def step_of(self, sigma: torch.Tensor, model_options: dict) -> int:
        sigmas = model_options["transformer_options"]["sample_sigmas"]
        matches = torch.nonzero(torch.isclose(sigmas, sigma[0], rtol=0.0001))  # any batch (ComfyUI: one sigma)
        if matches.numel() == 0:
            raise ValueError("context windows: the step's sigma is not in the sampler's sigmas")
        return int(matches[0].item())

    def windows(self, frames: int, step: int) -> list[list[int]]:
        return WINDOWS[self.context_schedule](frames, self, step)

    def execute(self, calc: Callable, model, sides: list, x: torch.Tensor, sigma: torch.Tensor,
                model_options: dict) -> list[torch.Tensor]:
        """x0 per side, each window evaluated by `calc(model, sides, x, sigma, model_options)` on its slice."""
        frames = x.size(self.dim)
        windows = self.windows(frames, self.step_of(sigma, model_options))
        relative = self.fuse_method == "relative"
        outs = [torch.zeros_like(x) for _ in sides]
        shape = [1] * self.dim + [frames] + [1] * (x.ndim - self.dim - 1)
        counts = [(torch.ones if relative else torch.zeros)(shape, device=x.device) for _ in sides]
        biases = [[0.0] * frames for _ in sides]
        for window in windows:
            model_options["transformer_options"]["context_window"] = window
            sub_sigma = sigma if self.dim != 0 or sigma.shape[0] == 1 else sigma[window]
            sub_sides = [None if side is None else [self.window_entry(e, x, window) for e in side] for side in sides]
            results = calc(model, sub_sides, self.window_tensor(x, window), sub_sigma, model_options)
            if relative:
                self.blend_relative(window, results, outs, biases)
                continue
            weights = FUSE_WEIGHTS[self.fuse_method](len(window), window, frames, self.context_overlap)
            weights = _along(weights.to(x.device), self.dim, x.ndim)
            for out, count, result in zip(outs, counts, results):
                out[self.at(window)] += result * weights
                count[self.at(window)] += weights
        return outs if relative else [o / c for o, c in zip(outs, counts)]

    def at(self, window: list[int]) -> tuple:
        """The index of a window's positions along the handler's dimension."""
        return (slice(None),) * self.dim + (window,)

    def window_tensor(self, t: torch.Tensor, window: list[int]) -> torch.Tensor:
        return t[self.at(window)]

    def window_entry(self, entry, x: torch.Tensor, window: list[int]):
        """A conditioning entry for the window's slice: along the batch, its network inputs shortened to the
        window (ComfyUI repeats them to the window's batch); its weights cut where they span the dimension."""
        kwargs = entry.kwargs
        if self.dim == 0:
            kwargs = {k: v[:len(window)] if v.shape[0] == x.shape[0] else v for k, v in kwargs.items()}
        mult = entry.mult
        if mult.ndim > self.dim and mult.size(self.dim) == x.size(self.dim) > 1:
            mult = self.window_tensor(mult, window)
        return replace(entry, kwargs=kwargs, mult=mult)

    def blend_relative(self, window: list[int], results: list[torch.Tensor], outs: list[torch.Tensor],
                       biases: list[list[float]]) -> None:
        """Running average per position, each window weighing its positions more towards its centre."""
        first, last = window[0], window[-1]
        for pos, index in enumerate(window):
            bias = max(1e-2, 1 - abs(index - (first + last) / 2) / ((last - first + 1e-2) / 2))
            for out, result, seen in zip(outs, results, biases):
                total = seen[index]
                here = (slice(None),) * self.dim + (index,)
                there = (slice(None),) * self.dim + (pos,)
                out[here] = out[here] * (total / (total + bias)) + result[there] * (bias / (total + bias))
                seen[index] = total + bias
