"""ComfyUI's `comfy.samplers`: KSampler (with SAMPLERS / SCHEDULERS), KSAMPLER, ksampler(), sampler_object,
calculate_sigmas, CFGGuider, sampling_function: Loom's sampler and scheduler registries and SAMPLER /
GUIDER values (engine/sampling), under ComfyUI's names.

A pack that adds a sampler the ComfyUI way (a function `comfy.k_diffusion.sampling.sample_<name>` plus
the name appended to KSampler.SAMPLERS) gets it into Loom's registry, so the KSampler node offers and
runs it. CFGGuider takes a MODEL and places its UNet with Loom's model manager while it samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Self

from comfy_compat import state
from engine.sampling import guiders
from engine.sampling.cfg import calc_cond_batch, cfg_function, sampling_function
from engine.sampling.sampler_object import Sampler, ksampler, sampler_object
from engine.sampling.samplers import SAMPLERS as LOOM_SAMPLERS
from engine.sampling.schedules import DISCARD_PENULTIMATE_SIGMA
from engine.sampling.schedules import SCHEDULERS as LOOM_SCHEDULERS
from engine.sampling.schedules import calculate_sigmas as loom_calculate_sigmas
from engine.values.model_patcher import ModelPatcher

__all__ = ["KSAMPLER", "CFGGuider", "KSampler", "Sampler", "calc_cond_batch", "calculate_sigmas", "cfg_function",
           "ksampler", "sample", "sampler_object", "sampling_function"]

KSAMPLER = Sampler


def _from_k_diffusion(name: str) -> Callable:
    """Loom's sampler for a name a pack registered: `comfy.k_diffusion.sampling.sample_<name>`, looked up
    when it runs (packs may set the function after appending the name)."""
    def run(model, x, sigmas, extra_args=None, callback=None, disable=None, **options):
        from comfy_compat.comfy.k_diffusion import sampling

        function = vars(sampling).get(f"sample_{name}")  # set by the pack (not Loom's own of that name)
        if function is None:
            raise ValueError(f"sampler {name!r} was registered by a node pack but "
                             f"comfy.k_diffusion.sampling.sample_{name} does not exist")
        return function(model, x, sigmas, extra_args=extra_args, callback=callback, disable=disable, **options)

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

    def __iadd__(self, names: Iterable[str]) -> Self:
        self.extend(names)
        return self


SAMPLER_NAMES = _RegisteringNames(LOOM_SAMPLERS)
KSAMPLER_NAMES = SAMPLER_NAMES
SCHEDULER_NAMES = list(LOOM_SCHEDULERS)
SCHEDULER_HANDLERS = LOOM_SCHEDULERS


def calculate_sigmas(model_sampling: Any, scheduler_name: str, steps: int) -> Any:
    """The descending sigmas (length steps + 1) of a Loom scheduler for a model's sampling."""
    return loom_calculate_sigmas(model_sampling, scheduler_name, steps)


class CFGGuider(guiders.CFGGuider):
    """Loom's CFGGuider (engine.sampling.guiders) on a MODEL: `sample` places the UNet (and the
    conditioning's ControlNets) with the running node's model manager, as Loom's sampler nodes do."""

    def __init__(self, model_patcher: Any, place: Any = None):
        if place is None and isinstance(model_patcher, ModelPatcher):
            from nodes.sampling import placer

            place = placer(state.node_context())
        super().__init__(model_patcher, place)


def sample(model: Any, noise: Any, positive: list, negative: list, cfg: float, device: Any, sampler: Any,
           sigmas: Any, model_options: dict | None = None, latent_image: Any = None, denoise_mask: Any = None,
           callback: Callable | None = None, disable_pbar: bool = False, seed: int | None = None) -> Any:
    """A SAMPLER down `sigmas` with CFG guidance (a CFGGuider on the MODEL)."""
    guider = CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    return guider.sample(noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed)


def cast_transformer_options(transformer_options: dict, device: Any = None, dtype: Any = None) -> None:
    """Move (and cast) the tensors of transformer_options' cond/uncond bookkeeping in place."""
    for key, value in list(transformer_options.items()):
        if hasattr(value, "to"):
            transformer_options[key] = value.to(device=device, dtype=dtype if value.is_floating_point() else None)


class KSampler:
    """ComfyUI's KSampler object: a model, step count, sampler and scheduler; `sample` runs them."""

    SAMPLERS = SAMPLER_NAMES
    SCHEDULERS = SCHEDULER_NAMES
    DISCARD_PENULTIMATE_SIGMA_SAMPLERS = DISCARD_PENULTIMATE_SIGMA

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
    """ComfyUI's inpainting wrapper around a denoiser; Loom's is engine.sampling.inpaint.InpaintDenoiser."""

    def __new__(cls, model: Any, sigmas: Any) -> Any:
        from engine.sampling.inpaint import InpaintDenoiser

        return InpaintDenoiser(model, sigmas)
