"""Context windows against ComfyUI 0.3.64's own results (tests/sampling_extras/data, written by
tools/comfy_reference/sampling_extras_reference.py): the window lists of every schedule for several
settings and steps (exact), and euler runs of a toy whose output mixes positions across height and width,
windowed along height or width by ContextWindowsManual (max |loom - comfy| <= 2e-5 * max |comfy|).
"""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from engine.sampling import sample
from engine.sampling.context_windows import ContextHandler
from engine.sampling.model_sampling import DiscreteModelSampling
from engine.sampling.model_wrapper import SamplingModel
from engine.values.model_patcher import ModelPatcher
from nodes.context_windows import ContextWindowsManual, WanContextWindowsManual
from tests.sampling.comfy_reference import CFG, SD15_SCALE, SEED, STEPS, ToyUNet, conditioning, reference

DATA = load_file(str(Path(__file__).parent / "data" / "comfy_sampling_extras.safetensors"))
WINDOW_KEYS = [k for k in DATA if k.startswith("windows/")]
RUN_KEYS = [k for k in DATA if k.startswith("context/") and not k.startswith("context/none")]


class MixingToy(ToyUNet):
    """The toy plus 0.3 tanh(mean of x over height and width), as in the reference script."""

    def __init__(self):
        super().__init__(reference()["toy.mix"], reference()["toy.proj"])

    def apply(self, x, timestep, context, control=None, **kw):
        return super().apply(x, timestep, context) + 0.3 * torch.tanh(x.mean(dim=(2, 3), keepdim=True))


def unwrap(flat: torch.Tensor) -> list[list[int]]:
    windows, current = [], []
    for value in flat.tolist():
        if value == -1:
            windows.append(current)
            current = []
        else:
            current.append(value)
    return windows


@pytest.mark.parametrize("key", WINDOW_KEYS)
def test_window_lists_equal_comfyui(key):
    _, schedule, frames, length, overlap, stride, closed, step = key.split("/")
    handler = ContextHandler(schedule, "pyramid", int(length), int(overlap), int(stride), closed == "True")
    assert handler.windows(int(frames), int(step)) == unwrap(DATA[key])


def run(model_options: dict) -> torch.Tensor:
    model = SamplingModel(MixingToy(), DiscreteModelSampling("eps"), latent_scale=SD15_SCALE,
                          model_options=model_options)
    positive, negative = conditioning()
    latent = {"samples": torch.zeros(DATA["context/none/none/0"].shape)}
    return sample(model, SEED, STEPS, CFG, "euler", "normal", positive, negative, latent)["samples"]


def windowed_options(schedule: str, fuse: str, dim: int) -> dict:
    model = ModelPatcher(None, None, model=SimpleNamespace())
    (patched,) = ContextWindowsManual(model=model, context_length=4, context_overlap=2, context_schedule=schedule,
                                      context_stride=1, closed_loop=False, fuse_method=fuse, dim=dim).run(None)
    return patched.model_options


def assert_latent_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    error = (ours - theirs).abs().max().item()
    assert error <= 2e-5 * theirs.abs().max().item(), f"max abs error {error:.3g}"


@pytest.mark.parametrize("key", RUN_KEYS)
def test_windowed_sampling_equals_comfyui(key):
    _, schedule, fuse, dim = key.split("/")
    out = run(windowed_options(schedule, fuse, int(dim)))
    assert_latent_close(out, DATA[key])
    assert (out - DATA["context/none/none/0"]).abs().max() > 1e-3  # the windows changed the result


def test_unwindowed_mixing_toy_equals_comfyui():
    assert_latent_close(run({}), DATA["context/none/none/0"])


def test_wan_node_windows_latent_frames_on_dim_2():
    model = ModelPatcher(None, None, model=SimpleNamespace())
    (patched,) = WanContextWindowsManual(model=model, context_length=81, context_overlap=30,
                                         context_schedule="standard_static", context_stride=1, closed_loop=False,
                                         fuse_method="pyramid").run(None)
    handler = patched.model_options["context_handler"]
    assert (handler.dim, handler.context_length, handler.context_overlap) == (2, 21, 8)
    assert "context_handler" not in model.model_options
