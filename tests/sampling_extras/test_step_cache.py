"""EasyCache and LazyCache against ComfyUI 0.3.64's own results (tests/sampling_extras/data, written by
tools/comfy_reference/sampling_extras_reference.py): the toy network of tests/sampling, whose forward runs
the "diffusion_model" wrappers as the UNet does, euler / normal, 20 steps, seed 42, cfg 3.5, 16x16 latent.
Tolerance: max |loom - comfy| <= 2e-5 * max |comfy|; network call counts equal.
"""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from engine.models.wrappers import DIFFUSION_MODEL, run_wrapped
from engine.sampling import sample
from engine.sampling.model_sampling import DiscreteModelSampling
from engine.sampling.model_wrapper import SamplingModel
from engine.values.model_patcher import ModelPatcher
from nodes.step_cache_nodes import EasyCache, LazyCache
from tests.sampling.comfy_reference import CFG, SD15_SCALE, SEED, ToyUNet, conditioning, reference

DATA = load_file(str(Path(__file__).parent / "data" / "comfy_sampling_extras.safetensors"))
SHAPE, STEPS = (1, 4, 16, 16), 20
NODES = {"EasyCache": EasyCache, "LazyCache": LazyCache}


class CountingToy(ToyUNet):
    """The toy network behind ComfyUI's wrapper chain, counting the evaluations that really run."""

    def __init__(self):
        super().__init__(reference()["toy.mix"], reference()["toy.proj"])
        self.calls = 0

    def apply(self, x, timestep, context, control=None, transformer_options=None, **kw):
        return run_wrapped(self._run, self, transformer_options, DIFFUSION_MODEL, x, timestep, context, None,
                           control, transformer_options)

    def _run(self, x, timestep, context, y, control, transformer_options):
        self.calls += 1
        return super().apply(x, timestep, context)


def run(model_options: dict) -> tuple[torch.Tensor, int]:
    toy = CountingToy()
    model = SamplingModel(toy, DiscreteModelSampling("eps"), latent_scale=SD15_SCALE, model_options=model_options)
    positive, negative = conditioning()
    out = sample(model, SEED, STEPS, CFG, "euler", "normal", positive, negative, {"samples": torch.zeros(SHAPE)})
    return out["samples"], toy.calls


def patched_options(name: str, threshold: float) -> dict:
    model = ModelPatcher(None, None, model=SimpleNamespace())
    (patched,) = NODES[name](model=model, reuse_threshold=threshold, start_percent=0.15, end_percent=0.95,
                             verbose=False).run(None)
    return patched.model_options


def assert_latent_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    error = (ours - theirs).abs().max().item()
    assert error <= 2e-5 * theirs.abs().max().item(), f"max abs error {error:.3g}"


def test_uncached_toy_run_equals_comfyui():
    out, calls = run({})
    assert calls == int(DATA["calls/none/0"]) == STEPS
    assert_latent_close(out, DATA["cache/none/0"])


@pytest.mark.parametrize("threshold", [0.05, 0.2])
@pytest.mark.parametrize("name", list(NODES))
def test_cache_skips_the_steps_comfyui_skips_and_gives_its_latent(name, threshold):
    out, calls = run(patched_options(name, threshold))
    assert calls == int(DATA[f"calls/{name}/{threshold}"]) < STEPS
    assert_latent_close(out, DATA[f"cache/{name}/{threshold}"])


def test_cache_state_is_fresh_for_each_run_of_the_same_model():
    options = patched_options("LazyCache", 0.2)
    first, second = run(options), run(options)
    assert first[1] == second[1] and torch.equal(first[0], second[0])
