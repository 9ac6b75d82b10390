"""ComfyUI's `nodes` module as packs read it: every node class (with FUNCTION), MAX_RESOLUTION,
common_ksampler, NODE_CLASS_MAPPINGS and NODE_DISPLAY_NAME_MAPPINGS, over Loom's registry.

Loom's own core node package is also named `nodes`, so the name cannot be an alias: nodes/__init__.py
forwards unknown attributes here. The mappings are live views of the bound registry (core nodes and the
packs loaded so far); a native node appears as its ComfyUI-style class (comfy_compat.v1_calls).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from comfy_compat import state
from comfy_compat.v1_calls import comfy_class, comfy_node_class

MAX_RESOLUTION = 16384


class _RegistryView(Mapping):
    """class_type -> class (or display name) over the bound registry."""

    def __init__(self, field: str):
        self._field = field

    def _registry(self) -> Any:
        registry = state.registry()
        return registry if registry is not None else {}

    def __getitem__(self, class_type: str) -> Any:
        registry = self._registry()
        if class_type not in registry:
            raise KeyError(class_type)
        definition = registry.get(class_type)
        return comfy_class(definition) if self._field == "cls" else definition.spec.display_name

    def __iter__(self) -> Iterator[str]:
        registry = self._registry()
        return iter(registry.names() if registry else [])

    def __len__(self) -> int:
        return len(self._registry())


def common_ksampler(model: Any, seed: int, steps: int, cfg: float, sampler_name: str, scheduler: str,
                    positive: list, negative: list, latent: dict, denoise: float = 1.0, disable_noise: bool = False,
                    start_step: int | None = None, last_step: int | None = None,
                    force_full_denoise: bool = False) -> tuple[dict]:
    """One KSampler run as ComfyUI's helper does it: (a copy of `latent` with new samples,)."""
    import comfy.sample

    samples = comfy.sample.sample(
        model, None, steps, cfg, sampler_name, scheduler, positive, negative, latent["samples"], denoise=denoise,
        disable_noise=disable_noise, start_step=start_step, last_step=last_step,
        force_full_denoise=force_full_denoise, noise_mask=latent.get("noise_mask"), seed=seed,
        batch_index=latent.get("batch_index"))
    return ({**latent, "samples": samples},)


# Packs add {pack name: folder of JS extensions} here (Impact Pack does); the server serves them too.
EXTENSION_WEB_DIRS: dict[str, str] = {}


def pack_web_dirs() -> dict[str, Path]:
    """The JS folders packs put in EXTENSION_WEB_DIRS, served at /extensions/<name>/ like WEB_DIRECTORY."""
    return {name: Path(folder) for name, folder in EXTENSION_WEB_DIRS.items() if Path(folder).is_dir()}

def interrupt_processing(value: bool = True) -> None:
    """Ask the running prompt to stop (ComfyUI's nodes.interrupt_processing)."""
    from comfy_compat.comfy.model_management import interrupt_current_processing

    interrupt_current_processing(value)


ATTRIBUTES = {
    "EXTENSION_WEB_DIRS": EXTENSION_WEB_DIRS,
    "interrupt_processing": interrupt_processing,
    "NODE_CLASS_MAPPINGS": _RegistryView("cls"),
    "NODE_DISPLAY_NAME_MAPPINGS": _RegistryView("display_name"),
    "MAX_RESOLUTION": MAX_RESOLUTION,
    "common_ksampler": common_ksampler,
}


def attribute(name: str) -> Any:
    """The value of ComfyUI's `nodes.<name>`: a helper, a mapping, or a node class; AttributeError else."""
    if name in ATTRIBUTES:
        return ATTRIBUTES[name]
    registry = state.registry()
    if registry is not None and name in registry:
        return comfy_class(registry.get(name))
    found = comfy_node_class(name, "nodes")
    if found is not None:
        return found
    raise AttributeError(f"module 'nodes' has no attribute {name!r} (Loom's core node package: ComfyUI's "
                         f"names are its node classes and {', '.join(ATTRIBUTES)})")
