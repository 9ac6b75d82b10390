"""ComfyUI's `comfy.samplers`: KSampler (with SAMPLERS / SCHEDULERS), KSAMPLER, ksampler(), sampler_object,
calculate_sigmas, CFGGuider, over Loom's sampler and scheduler registries (engine/sampling).

The name lists are Loom's registries' keys. A pack that adds a sampler the ComfyUI way (a function
`comfy.k_diffusion.sampling.sample_<name>` plus the name appended to KSampler.SAMPLERS) gets it into
Loom's registry, so the KSampler node offers and runs it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from engine.sampling.samplers import SAMPLERS as LOOM_SAMPLERS
from engine.sampling.schedules import SCHEDULERS as LOOM_SCHEDULERS
from engine.sampling.schedules import calculate_sigmas as loom_calculate_sigmas


def k_diffusion_sampler(function: Callable, extra_options: dict | None = None) -> Callable:
    """A k-diffusion style sampler `fn(model, x, sigmas, extra_args, callback, disable, **options)` as a
    Loom sampler `fn(model, x, sigmas, extra_args, callback, noise_sampler)`."""
    accepted = inspect.signature(function).parameters
    open_ended = any(p.kind is p.VAR_KEYWORD for p in accepted.values())

    def run(model, x, sigmas, extra_args=None, callback=None, noise_sampler=None, **knobs):
        options = {**(extra_options or {}), **knobs}
        if noise_sampler is not None and ("noise_sampler" in accepted or open_ended):
            options.setdefault("noise_sampler", noise_sampler)
        if "disable" in accepted or open_ended:
            options["disable"] = True
        return function(model, x, sigmas, extra_args=extra_args if extra_args is not None else {},
                        callback=callback, **options)

    run.__doc__ = function.__doc__
    return run


def _from_k_diffusion(name: str) -> Callable:
    """Loom's sampler for a name a pack registered: `comfy.k_diffusion.sampling.sample_<name>`, looked up
    when it runs (packs may set the function after appending the name)."""
    def run(model, x, sigmas, extra_args=None, callback=None, noise_sampler=None):
        from comfy_compat.comfy.k_diffusion import sampling

        function = vars(sampling).get(f"sample_{name}")  # set by the pack (not Loom's own of that name)
        if function is None:
            raise ValueError(f"sampler {name!r} was registered by a node pack but "
                             f"comfy.k_diffusion.sampling.sample_{name} does not exist")
        return k_diffusion_sampler(function)(model, x, sigmas, extra_args, callback, noise_sampler)

    return run


class _RegisteringNames(list):
    """A list of sampler names that registers appended names in Loom's sampler registry."""

    def _register(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in LOOM_SAMPLERS:
                LOOM_SAMPLERS[name] = _from_k_diffusion(name)

    def append(self, name: str) -> None:
        self._register([name])
        super().append(name)

    def extend(self, names: Iterable[str]) -> None:
        names = list(names)
        self._register(names)
        super().extend(names)

    def insert(self, index: int, name: str) -> None:
        self._register([name])
        super().insert(index, name)

    def __iadd__(self, names: Iterable[str]) -> _RegisteringNames:
        self.extend(names)
        return self


SAMPLER_NAMES = _RegisteringNames(LOOM_SAMPLERS)
KSAMPLER_NAMES = SAMPLER_NAMES
SCHEDULER_NAMES = list(LOOM_SCHEDULERS)
SCHEDULER_HANDLERS = LOOM_SCHEDULERS


def calculate_sigmas(model_sampling: Any, scheduler_name: str, steps: int) -> Any:
    """The descending sigmas (length steps + 1) of a Loom scheduler for a model's sampling."""
    return loom_calculate_sigmas(model_sampling, scheduler_name, steps)


class Sampler:
    """Base of SAMPLER values: something `comfy.sample.sample_custom` can run."""

    def max_denoise(self, model_wrap: Any, sigmas: Any) -> bool:
        model_sampling = getattr(getattr(model_wrap, "inner_model", model_wrap), "model_sampling", None)
        return model_sampling is None or float(sigmas[0]) >= float(model_sampling.sigma_max) * (1 - 1e-5)


class KSAMPLER(Sampler):
    """A SAMPLER value wrapping a k-diffusion style function and its options."""

    def __init__(self, sampler_function: Callable, extra_options: dict | None = None,
                 inpaint_options: dict | None = None):
        self.sampler_function = sampler_function
        self.extra_options = dict(extra_options or {})
        self.inpaint_options = dict(inpaint_options or {})

    def loom_sampler(self) -> Callable:
        """This sampler as an entry of Loom's registry."""
        return k_diffusion_sampler(self.sampler_function, self.extra_options)


def ksampler(sampler_name: str, extra_options: dict | None = None, inpaint_options: dict | None = None) -> KSAMPLER:
    """The SAMPLER for a registered name (Loom's sampler of that name)."""
    if sampler_name not in LOOM_SAMPLERS:
        raise ValueError(f"unknown sampler {sampler_name!r}; known: {', '.join(LOOM_SAMPLERS)}")
    return KSAMPLER(_loom_as_k_diffusion(LOOM_SAMPLERS[sampler_name]), extra_options, inpaint_options)


def _loom_as_k_diffusion(function: Callable) -> Callable:
    def sample(model, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None, **options):
        return function(model, x, sigmas, extra_args=extra_args, callback=callback, noise_sampler=noise_sampler,
                        **options)

    sample.__doc__ = function.__doc__
    return sample


def sampler_object(name: str) -> KSAMPLER:
    return ksampler(name)


class CFGGuider:
    """A GUIDER value: a model, positive/negative conditioning and a cfg scale, run by `sample`."""

    def __init__(self, model_patcher: Any):
        self.model_patcher = model_patcher
        self.conds: dict[str, list] = {}
        self.cfg = 1.0
        self.model_options = dict(getattr(model_patcher, "model_options", {}) or {})

    def set_conds(self, positive: list, negative: list) -> None:
        self.conds = {"positive": positive, "negative": negative}

    def set_cfg(self, cfg: float) -> None:
        self.cfg = cfg

    def sample(self, noise: Any, latent_image: Any, sampler: Sampler, sigmas: Any, denoise_mask: Any = None,
               callback: Callable | None = None, disable_pbar: bool = False, seed: int | None = None) -> Any:
        """Run `sampler` down `sigmas` from `latent_image` + `noise`; returns the denoised samples."""
        from comfy_compat.comfy.sample import sample_custom

        return sample_custom(self.model_patcher, noise, self.cfg, sampler, sigmas, self.conds.get("positive", []),
                             self.conds.get("negative", []), latent_image, noise_mask=denoise_mask,
                             callback=callback, disable_pbar=disable_pbar, seed=seed)


class KSampler:
    """ComfyUI's KSampler object: a model, step count, sampler and scheduler; `sample` runs them."""

    SAMPLERS = SAMPLER_NAMES
    SCHEDULERS = SCHEDULER_NAMES
    DISCARD_PENULTIMATE_SIGMA_SAMPLERS = {"dpm_2", "dpm_2_ancestral", "uni_pc", "uni_pc_bh2"}

    def __init__(self, model: Any, steps: int, device: Any = None, sampler: str | None = None,
                 scheduler: str | None = None, denoise: float | None = None, model_options: dict | None = None):
        self.model, self.steps, self.device = model, steps, device
        self.sampler = sampler if sampler in LOOM_SAMPLERS else SAMPLER_NAMES[0]
        self.scheduler = scheduler if scheduler in LOOM_SCHEDULERS else SCHEDULER_NAMES[0]
        self.denoise = 1.0 if denoise is None else denoise
        self.model_options = model_options or {}

    def sample(self, noise: Any, positive: list, negative: list, cfg: float, latent_image: Any = None,
               start_step: int | None = None, last_step: int | None = None, force_full_denoise: bool = False,
               denoise_mask: Any = None, sigmas: Any = None, callback: Callable | None = None,
               disable_pbar: bool = False, seed: int | None = None) -> Any:
        from comfy_compat.comfy.sample import sample

        return sample(self.model, noise, self.steps, cfg, self.sampler, self.scheduler, positive, negative,
                      latent_image, denoise=self.denoise, start_step=start_step, last_step=last_step,
                      force_full_denoise=force_full_denoise, noise_mask=denoise_mask, sigmas=sigmas,
                      callback=callback, disable_pbar=disable_pbar, seed=seed)


class KSamplerX0Inpaint:
    """ComfyUI's inpainting wrapper around a denoiser; Loom applies the noise mask inside its KSampler
    run (engine.sampling.ksampler.inpainting), so calling this wrapper is not supported."""

    def __init__(self, model: Any, sigmas: Any):
        self.inner_model, self.sigmas = model, sigmas

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("comfy.samplers.KSamplerX0Inpaint: Loom masks noise inside its KSampler run")


def sampling_function(model: Any, x: Any, timestep: Any, uncond: Any, cond: Any, cond_scale: float,
                      model_options: dict | None = None, seed: int | None = None) -> Any:
    """ComfyUI's guidance step on its internal cond format, which Loom's sampler does not use: packs
    reach guidance through model options (sampler_cfg_function, post-cfg functions) instead."""
    raise NotImplementedError("comfy.samplers.sampling_function works on ComfyUI's internal conditioning format; "
                              "Loom applies guidance in engine.sampling.cfg (use model options or a GUIDER)")
