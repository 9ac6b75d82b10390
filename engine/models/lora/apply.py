"""Turn a LoRA file into weight patches on a model handle, and say what matched.

Patches are functions of (weight, strength) kept on the handle; the model manager computes the patched
weight when it places the model and restores the exact original when patches change, so stacking LoRAs
or changing a strength never copies the model or re-reads its checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from engine.models.checkpoint import open_checkpoint
from engine.models.lora.formats import Adapter, build_adapters
from engine.models.lora.keys import is_text_module, normalise
from engine.weight_patches import Patch

log = logging.getLogger(__name__)
SHOWN = 5  # unmatched names quoted in a report


@dataclass
class LoRAFile:
    """A LoRA file's adapters by module name, plus the keys no known format claims."""

    name: str
    adapters: dict[str, Adapter]
    unknown_keys: list[str] = field(default_factory=list)


def read_lora(path: str | Path) -> LoRAFile:
    """Read every tensor of a LoRA file (.safetensors, or .pt/.ckpt with weights_only loading)."""
    path = Path(path)
    adapters, unknown = build_adapters(dict(open_checkpoint(path)))
    return LoRAFile(path.name, adapters, unknown)


@dataclass
class MatchReport:
    """How a LoRA's modules met one model: matched, with no target, or with a target of another shape."""

    target: str
    matched: int = 0
    unmatched: list[str] = field(default_factory=list)
    wrong_shape: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.matched + len(self.unmatched) + len(self.wrong_shape)

    def summary(self) -> str:
        text = f"{self.matched} of {self.total} {self.target} modules matched"
        if self.unmatched:
            text += f"; no {self.target} weight for {len(self.unmatched)} (e.g. {', '.join(self.unmatched[:SHOWN])})"
        if self.wrong_shape:
            text += (f"; {len(self.wrong_shape)} of another shape, made for a different model "
                     f"(e.g. {', '.join(self.wrong_shape[:SHOWN])})")
        return text


def _patch_fn(adapter: Adapter):
    def apply(weight: torch.Tensor, strength: float) -> torch.Tensor:
        return adapter.patched(weight, strength)

    return apply


def lora_patches(lora: LoRAFile, names: Mapping[str, str], shapes: Mapping[str, tuple], strength: float,
                 text: bool) -> tuple[list[Patch], MatchReport]:
    """Patches for the modules of one side (text encoder modules when `text`, else the rest).

    `names` maps LoRA module names to weight keys (engine.models.lora.keys), `shapes` gives the shapes.
    """
    report = MatchReport("text encoder" if text else "UNet")
    patches = []
    for module, adapter in lora.adapters.items():
        if is_text_module(module) != text:
            continue
        key = names.get(module) or names.get(normalise(module))
        if key is None:
            report.unmatched.append(module)
        elif not adapter.fits(tuple(shapes[key])):
            report.wrong_shape.append(module)
        else:
            patches.append(Patch(key, _patch_fn(adapter), strength))
            bias = adapter.parts.get("diff_b")
            if bias is not None and key.removesuffix(".weight") + ".bias" in shapes:
                patches.append(Patch(key.removesuffix(".weight") + ".bias", bias, strength))
            report.matched += 1
    return patches, report


def warn_partial(lora: LoRAFile, reports: list[MatchReport]) -> None:
    """Log a warning when part of a LoRA found no home (or holds keys of no known format)."""
    for report in reports:
        if report.matched and (report.unmatched or report.wrong_shape):
            log.warning("LoRA %s: %s", lora.name, report.summary())
    if lora.unknown_keys:
        log.warning("LoRA %s: %d keys of no known LoRA format ignored (e.g. %s)", lora.name,
                    len(lora.unknown_keys), ", ".join(lora.unknown_keys[:SHOWN]))
