"""Step caches (ComfyUI's EasyCache and LazyCache): skip network evaluations whose result is predictable.

Both watch how much the model's input changed since the last real evaluation and, from the ratio of output
change to input change measured before, estimate how much the output would change. While the estimates,
summed since the last real evaluation, stay under `reuse_threshold`, the evaluation is skipped and the
last observed (output - input) difference is added to the new input instead. Only steps with sigma between
the sigmas of `start_percent` and `end_percent` are candidates.

EasyCache works inside the diffusion model call (a "diffusion_model" wrapper), per conditioning entry
(transformer_options["uuids"]); the first entry seen decides for the whole step, reset by a
"calc_cond_batch" wrapper. LazyCache works on the guider's whole prediction (a "predict_noise" wrapper).
An "outer_sample" wrapper gives each run a fresh cache state and logs how many steps were skipped.
The state lives in transformer_options["easycache"], where ComfyUI keeps it.
"""

from __future__ import annotations

import logging

import torch

from engine.models.wrappers import CALC_COND_BATCH, DIFFUSION_MODEL, OUTER_SAMPLE, PREDICT_NOISE

log = logging.getLogger(__name__)
STATE_KEY = "easycache"
SUBSAMPLE = 8  # change rates are measured on every 8th latent pixel in each direction


def _trim_to(x: torch.Tensor, like: torch.Size) -> torch.Tensor:
    """x cut to `like`'s sizes after the batch dimension, dropping leading elements where x is longer
    (a model that returns fewer frames than it was given)."""
    if x.shape[1:] == like[1:]:
        return x
    index = [slice(None)] + [slice(size - want, None) if size != want else slice(None)
                             for size, want in zip(x.shape[1:], like[1:])]
    return x[tuple(index)]


class StepCache:
    """The change-rate bookkeeping both caches share; subclasses say what is cached and how it is applied."""

    name = "StepCache"

    def __init__(self, reuse_threshold: float, start_percent: float, end_percent: float, verbose: bool = False):
        self.reuse_threshold, self.start_percent, self.end_percent = reuse_threshold, start_percent, end_percent
        self.verbose = verbose
        self.start_sigma = self.end_sigma = 0.0
        self.reset()
        self.transformation_rate: torch.Tensor | float | None = None

    def reset(self) -> StepCache:
        """Forget everything observed (a changed latent shape, or the end of a run)."""
        self.transformation_rate = 0.0
        self.accumulated = 0.0
        self.x_prev: torch.Tensor | None = None
        self.out_prev: torch.Tensor | None = None
        self.out_prev_norm: torch.Tensor | None = None
        self.metadata = None
        self.skipped = 0
        return self

    def fresh(self, model_sampling) -> StepCache:
        """A new state with the same settings, its sigma window taken from the model's schedule."""
        other = type(self)(self.reuse_threshold, self.start_percent, self.end_percent, self.verbose)
        other.start_sigma = model_sampling.percent_to_sigma(self.start_percent)
        other.end_sigma = model_sampling.percent_to_sigma(self.end_percent)
        return other

    def past_end(self, sigma: torch.Tensor) -> bool:
        return not bool(sigma[0] > self.end_sigma)

    def in_window(self, sigma: torch.Tensor) -> bool:
        return bool(sigma[0] <= self.start_sigma)

    def check_metadata(self, key) -> None:
        if self.metadata is not None and self.metadata != key:
            log.warning("%s: new latent size, dtype or device; cache state cleared", self.name)
            self.reset()
        if self.metadata is None:
            self.metadata = key

    def input_change(self, x_sub: torch.Tensor) -> torch.Tensor | None:
        return None if self.x_prev is None else (x_sub - self.x_prev).abs().mean()

    def should_skip(self, input_change: torch.Tensor | None) -> bool:
        """Add this step's estimated output change to the running sum: skip while it stays under the
        threshold, otherwise start a new sum (and evaluate)."""
        if input_change is None or self.out_prev_norm is None or self.transformation_rate is None:
            return False
        self.accumulated += self.transformation_rate * input_change / self.out_prev_norm
        if self.accumulated < self.reuse_threshold:
            if self.verbose:
                log.info("%s: skipping a step (accumulated change %s)", self.name, float(self.accumulated))
            return True
        self.accumulated = 0.0
        return False

    def observe(self, x_sub: torch.Tensor, out_sub: torch.Tensor, output: torch.Tensor,
                input_change: torch.Tensor | None) -> None:
        """Record a real evaluation: the output/input change ratio and what the next step compares with."""
        if self.out_prev_norm is not None and input_change is not None:
            self.transformation_rate = (out_sub - self.out_prev).abs().mean() / input_change
        self.x_prev, self.out_prev = x_sub.clone(), out_sub.clone()
        self.out_prev_norm = output.abs().mean()

    @staticmethod
    def subsample(x: torch.Tensor) -> torch.Tensor:
        return x[..., ::SUBSAMPLE, ::SUBSAMPLE]


class EasyCache(StepCache):
    """Per conditioning entry: each entry's last (output - input) inside the diffusion model call."""

    name = "EasyCache"

    def reset(self) -> EasyCache:
        super().reset()
        self.leader = None  # the uuid of the conditioning entry whose changes decide
        self.skip_step = False
        self.diffs: dict = {}
        return self

    def chunk(self, x: torch.Tensor, uuids: list, i: int) -> torch.Tensor:
        size = x.shape[0] // len(uuids)
        return x[i * size:(i + 1) * size]

    def apply(self, x: torch.Tensor, uuids: list) -> torch.Tensor:
        """A skipped call's output. As ComfyUI 0.3.64 computes it, every entry's cached difference is added to
        the whole batch (its broadcast when each entry has one picture: with cond and uncond in one call,
        both get input + cond diff + uncond diff), so workflows give ComfyUI's pictures."""
        if self.leader in uuids:
            self.skipped += 1
        for u in uuids:
            diff = self.diffs[u].to(x.device)
            x = _trim_to(x, diff.shape) + diff.repeat(x.shape[0] // diff.shape[0], *([1] * (diff.ndim - 1)))
        return x

    def remember(self, output: torch.Tensor, x: torch.Tensor, uuids: list) -> None:
        diff = output - _trim_to(x, output.shape)
        self.diffs.update({u: self.chunk(diff, uuids, i) for i, u in enumerate(uuids)})

    def forward(self, executor, args: tuple, kwargs: dict, options: dict) -> torch.Tensor:
        x, sigmas, uuids = args[0], options.get("sigmas"), options.get("uuids") or []
        if sigmas is None or not uuids or self.past_end(sigmas):
            return executor(*args, **kwargs)
        input_change, leads = None, self.leader in uuids
        if self.in_window(sigmas):
            self.check_metadata((x.device, x.dtype, x.shape[1:]))
            if self.skip_step:
                return self.apply(x, uuids)
            if self.leader is None:
                self.leader, leads = uuids[0], True
            if leads:
                input_change = self.input_change(self.subsample(self.chunk(x, uuids, uuids.index(self.leader))))
                if self.should_skip(input_change):
                    self.skip_step = True
                    return self.apply(x, uuids)
        output = executor(*args, **kwargs)
        self.remember(output, x, uuids)
        if leads:
            at = uuids.index(self.leader)
            self.observe(self.subsample(self.chunk(x, uuids, at)), self.subsample(self.chunk(output, uuids, at)),
                         output, input_change)
        return output


class LazyCache(StepCache):
    """One (output - input) for the guider's whole prediction of a step."""

    name = "LazyCache"

    def reset(self) -> LazyCache:
        super().reset()
        self.diff: torch.Tensor | None = None
        return self

    def predict(self, executor, args: tuple, kwargs: dict) -> torch.Tensor:
        x, sigma = args[0], args[1]
        if self.past_end(sigma):
            return executor(*args, **kwargs)
        input_change = None
        if self.in_window(sigma):
            self.check_metadata((x.device, x.dtype, x.shape))
            input_change = self.input_change(self.subsample(x))
            if self.should_skip(input_change):
                self.skipped += 1
                return x + self.diff.to(x.device)
        output = executor(*args, **kwargs)
        self.diff = output - x
        self.observe(self.subsample(x), self.subsample(output), output, input_change)
        return output


def _state(options: dict) -> StepCache:
    return options["transformer_options"][STATE_KEY]


def _model_sampling(model):
    """The schedule of the guider's model: a MODEL (get_model_object) or a sampling model."""
    getter = getattr(model, "get_model_object", None)
    return getter("model_sampling") if getter is not None else model.model_sampling


def outer_sample_wrapper(executor, *args, **kwargs):
    """Run the sampler with a fresh cache state in a copy of the guider's options; log what it skipped."""
    guider = executor.class_obj
    original = guider.model_options
    transformer_options = dict(original.get("transformer_options", {}))
    state = _state(original).fresh(_model_sampling(guider.model_patcher))
    transformer_options[STATE_KEY] = state
    guider.model_options = {**original, "transformer_options": transformer_options}
    log.info("%s on: reuse_threshold %s, start_percent %s, end_percent %s", state.name, state.reuse_threshold,
             state.start_percent, state.end_percent)
    try:
        return executor(*args, **kwargs)
    finally:
        steps = len(args[3]) - 1
        log.info("%s skipped %d of %d steps", state.name, state.skipped, steps)
        guider.model_options = original


def diffusion_model_wrapper(executor, *args, **kwargs):
    options = kwargs.get("transformer_options")
    if not isinstance(options, dict):
        options = args[-1] if isinstance(args[-1], dict) else args[-2]
    return options[STATE_KEY].forward(executor, args, kwargs, options)


def calc_cond_batch_wrapper(executor, *args, **kwargs):
    """A new step: no network call of it has been skipped yet."""
    _state(args[-1]).skip_step = False
    return executor(*args, **kwargs)


def predict_noise_wrapper(executor, *args, **kwargs):
    return _state(args[2]).predict(executor, args, kwargs)


def add_step_cache(model, cache: StepCache):
    """A clone of the MODEL that samples with `cache` (EasyCache or LazyCache)."""
    patched = model.clone()
    patched.model_options["transformer_options"][STATE_KEY] = cache
    key = cache.name.lower()
    patched.add_wrapper_with_key(OUTER_SAMPLE, key, outer_sample_wrapper)
    if isinstance(cache, EasyCache):
        patched.add_wrapper_with_key(CALC_COND_BATCH, key, calc_cond_batch_wrapper)
        patched.add_wrapper_with_key(DIFFUSION_MODEL, key, diffusion_model_wrapper)
    else:
        patched.add_wrapper_with_key(PREDICT_NOISE, key, predict_noise_wrapper)
    return patched
