"""The CONTROL_NET socket value and how a ControlNet (or T2I-Adapter) runs inside a sampler.

A ControlNet application is an engine.sampling.cfg `Control` on conditioning entries whose `fn` is a
`ControlNetStep`: its hint image and strength. While a KSampler runs, `controls_bound` places every
ControlNet its conditioning uses (pinned beside the UNet), checks each fits the base model and gives the
steps the model's noise parametrisation; outside a run the steps hold no module.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from engine.image_resize import interpolate
from engine.memory import ModelHandle, ModelManager, file_key, weight_dtype
from engine.models.checkpoint import open_checkpoint
from engine.models.controlnet import (
    ControlNetConfig,
    ControlNetModel,
    check_compatible,
    controlnet_weights,
    infer_controlnet_config,
    tensor_shapes,
)
from engine.models.t2i_adapter import (
    T2IAdapter,
    T2IAdapterConfig,
    adapter_weights,
    check_adapter_fits,
    infer_adapter_config,
    input_residuals,
    is_t2i_adapter,
)
from engine.models.unet import UNetConfig
from engine.sampling.cfg import Control, repeat_to_batch
from engine.values.model_patcher import ModelPatcher

DIFF_MARK = "difference"  # key present in "diff" ControlNets (weights relative to their base UNet)
HINT_SCALE = 8  # hint pixels per latent pixel (the SD VAEs' downscale)


@dataclass(eq=False)
class ControlNetValue:
    """CONTROL_NET: the managed ControlNet (or T2I-Adapter) weights and their sizes.

    It also has ComfyUI's ControlNet interface for node packs: `copy().set_cond_hint(hint, strength,
    (start, end))` makes an application that goes into a conditioning entry's "control" (it acts as an
    engine.sampling.cfg `Control`), chained with `set_previous_controlnet`.
    """

    handle: ModelHandle
    config: ControlNetConfig | T2IAdapterConfig
    name: str
    strength: float = 1.0
    timestep_percent_range: tuple[float, float] = (0.0, 1.0)
    previous_controlnet: Any = None
    cond_hint_original: torch.Tensor | None = None
    fn: Any = None  # the ControlNetStep of set_cond_hint

    def check_fits(self, base: UNetConfig) -> None:
        """Raise ValueError naming the file when this net cannot steer a UNet of `base`'s family."""
        try:
            if isinstance(self.config, T2IAdapterConfig):
                check_adapter_fits(self.config, base)
            else:
                check_compatible(self.config.unet, base)
        except ValueError as exc:
            raise ValueError(f"ControlNet {self.name}: {exc}") from None

    def copy(self) -> ControlNetValue:
        return replace(self)

    def set_cond_hint(self, cond_hint: torch.Tensor, strength: float = 1.0,
                      timestep_percent_range: tuple[float, float] = (0.0, 1.0), vae=None,
                      extra_concat: Sequence = ()) -> ControlNetValue:
        """Apply with hint [B, C, H, W] in 0..1 at `strength` over this part of the schedule."""
        self.cond_hint_original, self.strength = cond_hint, strength
        self.timestep_percent_range = tuple(timestep_percent_range)
        self.fn = ControlNetStep(self, cond_hint, strength)
        return self

    def set_previous_controlnet(self, controlnet) -> ControlNetValue:
        self.previous_controlnet = controlnet
        return self

    @property
    def start_percent(self) -> float:
        return self.timestep_percent_range[0]

    @property
    def end_percent(self) -> float:
        return self.timestep_percent_range[1]

    @property
    def previous(self):
        return self.previous_controlnet


class _PlusBase(Mapping):
    """A diff ControlNet's tensors with the base UNet's matching tensors added on access."""

    def __init__(self, control: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor]):
        self.control, self.base = control, base
        self._base_keys = set(base)

    def __getitem__(self, key: str) -> torch.Tensor:
        value = self.control[key]
        if key in self._base_keys:
            value = value + self.base[key].to(value.dtype)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.control)

    def __len__(self) -> int:
        return len(self.control)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        return tensor_shapes(self.control)


def load_controlnet(manager: ModelManager, path: Path, base: ModelPatcher | None = None) -> ControlNetValue:
    """A ControlNet file as a managed handle (nothing but shapes is read here). A diff ControlNet needs
    the `base` model it was made from; its weights are base + difference."""
    source = open_checkpoint(path)
    if is_t2i_adapter(source.shapes()):
        config = infer_adapter_config(adapter_weights(source).shapes())
        handle = manager.handle(file_key(path, "t2i_adapter"), name=f"{path.name} (t2i adapter)", kind="controlnet",
                                build=lambda: T2IAdapter(config),
                                state_dict=lambda: adapter_weights(open_checkpoint(path)))
        return ControlNetValue(handle, config, path.name)
    config = infer_controlnet_config(controlnet_weights(source))
    diff = DIFF_MARK in source
    if diff and base is None:
        raise ValueError(f"{path.name} is a difference ControlNet: load it with DiffControlNetLoader and the "
                         "model it was made from")

    def weights():
        control = controlnet_weights(open_checkpoint(path))
        return _PlusBase(control, base.handle.slot.state_dict()) if diff else control

    key = file_key(path, "controlnet+" + base.handle.key.replace("|", ":") if diff else "controlnet")
    handle = manager.handle(key, name=f"{path.name} (controlnet)", kind="controlnet",
                            build=lambda: ControlNetModel(config), state_dict=weights)
    return ControlNetValue(handle, config, path.name)


class ControlNetStep:
    """Control.fn of one application: the ControlNet's residuals for a noisy batch, times `strength`."""

    def __init__(self, net: ControlNetValue, hint: torch.Tensor, strength: float, apply_to_uncond: bool = False):
        self.net, self.hint, self.strength = net, hint, strength
        self.apply_to_uncond = apply_to_uncond  # ControlNetApply (legacy): negative prompts get it too
        self._bound = None
        self._fitted: tuple[tuple, torch.Tensor] | None = None
        self._adapter_input: tuple[torch.Tensor, list] | None = None

    def bind(self, module: ControlNetModel | T2IAdapter | None, model_sampling=None, latent_batch: int = 1,
             base: UNetConfig | None = None) -> None:
        self._bound = None if module is None else (module, model_sampling, latent_batch, base)
        self._fitted = self._adapter_input = None

    def _hint_for(self, x: torch.Tensor, latent_batch: int, device, dtype) -> torch.Tensor:
        """The hint at latent size x 8, one per sample of the batch (cond and uncond halves alike)."""
        key = (tuple(x.shape), device, dtype)
        if self._fitted is None or self._fitted[0] != key:
            height, width = x.shape[-2] * HINT_SCALE, x.shape[-1] * HINT_SCALE
            hint = interpolate(self.hint.float(), width, height, "nearest-exact", "center")
            if hint.shape[0] != 1:
                hint = repeat_to_batch(hint, latent_batch)[:latent_batch]
            hint = hint.repeat(-(-x.shape[0] // hint.shape[0]), 1, 1, 1)[: x.shape[0]]
            self._fitted = (key, hint.to(device, dtype))
        return self._fitted[1]

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: dict) -> dict:
        if self._bound is None:
            raise RuntimeError(f"ControlNet {self.net.name} ran outside a sampler run (not placed)")
        module, ms, latent_batch, base = self._bound
        device, dtype = weight_dtype(module)
        hint = self._hint_for(x, latent_batch, device, dtype)
        if isinstance(module, T2IAdapter):
            return {"input": self._adapter(module, hint, base)}
        y = cond.get("y")
        out = module(ms.calculate_input(sigma, x).to(device, dtype), hint, ms.timestep(sigma).float().to(device),
                     cond["context"].to(device, dtype), None if y is None else y.to(device, dtype))
        return {name: [r * self.strength for r in residuals] for name, residuals in out.items()}

    def _adapter(self, module: T2IAdapter, hint: torch.Tensor, base: UNetConfig) -> list:
        """A T2I-Adapter's residuals: its features do not depend on the step, so they are made once."""
        if self._adapter_input is None or self._adapter_input[0] is not hint:
            features = [f * self.strength for f in module(hint)]
            self._adapter_input = (hint, input_residuals(features, base))
        return self._adapter_input[1]


def control_steps(conditionings: list[list]) -> list[ControlNetStep]:
    """Every ControlNetStep on the entries of the given CONDITIONING lists (chains followed), once each."""
    steps: dict[int, ControlNetStep] = {}
    for conditioning in conditionings:
        for _, options in conditioning:
            control = options.get("control")
            while control is not None:
                if isinstance(control.fn, ControlNetStep):
                    steps.setdefault(id(control.fn), control.fn)
                control = control.previous
    return list(steps.values())


def _with_uncond_controls(positive: list, negative: list) -> list:
    """Negative entries without a control get the first positive control meant for both (legacy apply)."""
    shared = next((options["control"] for _, options in positive
                   if isinstance(options.get("control"), Control) and getattr(
                       options["control"].fn, "apply_to_uncond", False)), None)
    if shared is None:
        return negative
    return [[c, options if "control" in options else {**options, "control": shared}] for c, options in negative]


@contextmanager
def controls_bound(manager: ModelManager, model: ModelPatcher, sampling_model, latent: dict,
                   positive: list, negative: list) -> Iterator[tuple[list, list]]:
    """Place the ControlNets the conditioning uses and bind them for one sampler run; yields the
    (positive, negative) to sample with. A ControlNet for another model family is an error naming both."""
    negative = _with_uncond_controls(positive, negative)
    steps = control_steps([positive, negative])
    for step in steps:
        step.net.check_fits(model.config.unet)
    batch = latent["samples"].shape[0]
    with ExitStack() as stack:
        for step in steps:
            step.bind(stack.enter_context(manager.use(step.net.handle)), sampling_model.model_sampling, batch,
                      model.config.unet)
            stack.callback(step.bind, None)
        yield positive, negative
