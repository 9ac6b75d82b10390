"""The toy model of tools/comfy_reference/sampling_reference.py on Loom's side, and its reference data.

The reference file holds what ComfyUI 0.3.64 itself computed with the same toy network, conditioning,
seed and settings; tests rebuild the network from its stored weights and run Loom's entry points.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

from engine.sampling.model_sampling import DiscreteModelSampling
from engine.sampling.model_wrapper import SamplingModel

DATA = Path(__file__).parent / "data" / "comfy_sampling_reference.safetensors"
SEED = 42
CFG = 3.5
STEPS = 6
SHAPE = (1, 4, 8, 8)
SD15_SCALE = 0.18215
# float32 parity: the same operations in a different order (and torch's float32 rounding) across
# up to ~60 model evaluations; observed differences are below 1e-5.
RTOL, ATOL = 1e-4, 1e-5


@cache
def reference() -> dict[str, torch.Tensor]:
    return load_file(str(DATA))


@cache
def comfy_order(kind: str) -> list[str]:
    """ComfyUI's KSampler.SAMPLERS ("samplers") or SCHEDULERS ("schedulers"), in its order."""
    with safe_open(str(DATA), "pt") as f:
        return json.loads(f.metadata()[kind])


class ToyUNet:
    """eps = tanh(mix @ x + proj(mean context)) * (0.5 + t / 2000) + 0.1 x, per pixel."""

    def __init__(self, mix: torch.Tensor, proj: torch.Tensor):
        self.mix, self.proj = mix, proj

    def apply(self, x, timestep, context, control=None, **_kw):
        h = torch.einsum("oc,bchw->bohw", self.mix, x)
        c = context.mean(dim=1) @ self.proj.T
        t = timestep.float().reshape(-1, 1, 1, 1)
        return torch.tanh(h + c[:, :, None, None]) * (0.5 + t / 2000) + 0.1 * x


def toy_model(**options) -> SamplingModel:
    ref = reference()
    return SamplingModel(ToyUNet(ref["toy.mix"], ref["toy.proj"]), DiscreteModelSampling("eps"),
                         latent_scale=SD15_SCALE, **options)


def conditioning() -> tuple[list, list]:
    ref = reference()
    return [[ref["cond.positive"], {}]], [[ref["cond.negative"], {}]]


class SD15Model:
    """The MODEL members the scheduler and SA-Solver nodes read: get_model_object("model_sampling")."""

    def get_model_object(self, name: str):
        assert name == "model_sampling"
        return DiscreteModelSampling("eps")
