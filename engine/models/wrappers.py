"""ComfyUI's wrapper chains (comfy.patcher_extension): node packs register functions that wrap a call, e.g.
the diffusion model's forward; each gets an executor that calls the next wrapper, or the original at the
end. Wrappers live in the call's transformer_options["wrappers"][wrapper type][pack key] (lists)."""

from __future__ import annotations

from collections.abc import Callable

DIFFUSION_MODEL = "diffusion_model"  # ComfyUI's WrappersMP.DIFFUSION_MODEL: around the UNet's forward
OUTER_SAMPLE = "outer_sample"  # around a guider's whole run (noise, latent, sampler, sigmas, ...)
PREDICT_NOISE = "predict_noise"  # around a guider's x0 of one step (x, sigma, model_options, seed)
CALC_COND_BATCH = "calc_cond_batch"  # around the network calls of one step (model, conds, x, sigma, model_options)


def wrappers_of(transformer_options: dict | None, wrapper_type: str) -> list[Callable]:
    """Every wrapper of `wrapper_type` in the options, in registration order."""
    table = (transformer_options or {}).get("wrappers", {}).get(wrapper_type, {})
    return [fn for fns in table.values() for fn in fns]


def run_wrapped(original: Callable, class_obj: object, transformer_options: dict | None, wrapper_type: str,
                *args, **kwargs):
    """`original(*args)` through the options' wrappers of `wrapper_type` (directly when there are none)."""
    wrappers = wrappers_of(transformer_options, wrapper_type)
    if not wrappers:
        return original(*args, **kwargs)
    return WrapperExecutor(original, class_obj, wrappers).execute(*args, **kwargs)


class WrapperExecutor:
    """ComfyUI's executor: `execute(*args)` starts the chain; a wrapper calls `executor(*args)` for the next
    step; `class_obj` is the object whose method is wrapped."""

    def __init__(self, original: Callable, class_obj: object, wrappers: list[Callable], idx: int = 0):
        self.original, self.class_obj, self.wrappers, self.idx = original, class_obj, list(wrappers), idx
        self.is_last = idx == len(wrappers)

    def __call__(self, *args, **kwargs):
        return WrapperExecutor(self.original, self.class_obj, self.wrappers, self.idx + 1).execute(*args, **kwargs)

    def execute(self, *args, **kwargs):
        if self.is_last:
            return self.original(*args, **kwargs)
        return self.wrappers[self.idx](self, *args, **kwargs)

    @classmethod
    def new_executor(cls, original: Callable, wrappers: list[Callable], idx: int = 0) -> WrapperExecutor:
        return cls(original, None, wrappers, idx)

    @classmethod
    def new_class_executor(cls, original: Callable, class_obj: object, wrappers: list[Callable],
                           idx: int = 0) -> WrapperExecutor:
        return cls(original, class_obj, wrappers, idx)
