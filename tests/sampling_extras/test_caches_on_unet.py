"""The step caches and context windows on the real UNet of the tiny SD1.5 checkpoint through KSampler:
EasyCache's diffusion_model wrapper and LazyCache's predict_noise wrapper skip network calls (counted by a
wrapper registered inside theirs), and a context-windowed run completes with the latent's shape."""

import pytest
import torch

from engine.graph.context import ExecutionContext, Services
from engine.models.wrappers import DIFFUSION_MODEL
from nodes.context_windows import ContextWindowsManual
from nodes.loaders import CheckpointLoaderSimple
from nodes.sampling import KSampler
from nodes.step_cache_nodes import EasyCache, LazyCache
from nodes.text_encode import CLIPTextEncode
from tests.fixtures.workflow_runner import Loom

STEPS = 8


@pytest.fixture(scope="module")
def setup(tmp_path_factory, models_dir):
    loom = Loom(tmp_path_factory.mktemp("loom"), models_dir)
    ctx = ExecutionContext("1", "p", {}, Services(folders=loom.folders, models=loom.manager), sink=loom.events)
    model, clip, _ = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    (positive,) = CLIPTextEncode(text="a house", clip=clip).run(ctx)
    (negative,) = CLIPTextEncode(text="", clip=clip).run(ctx)
    return ctx, model, positive, negative


def counted(model) -> tuple[object, list]:
    calls = []

    def count(executor, *args, **kwargs):
        calls.append(1)
        return executor(*args, **kwargs)

    model = model.clone()
    model.add_wrapper_with_key(DIFFUSION_MODEL, "test_count", count)
    return model, calls


def run(ctx, model, positive, negative, shape=(1, 4, 16, 16)) -> torch.Tensor:
    (out,) = KSampler(model=model, seed=3, steps=STEPS, cfg=4.0, sampler_name="euler", scheduler="normal",
                      positive=positive, negative=negative, latent_image={"samples": torch.zeros(shape)},
                      denoise=1.0).run(ctx)
    return out["samples"]


@pytest.mark.parametrize("node", [EasyCache, LazyCache])
def test_cache_skips_unet_calls_in_a_ksampler_run(setup, node):
    ctx, model, positive, negative = setup
    plain, plain_calls = counted(model)
    reference = run(ctx, plain, positive, negative)
    (cached,) = node(model=model, reuse_threshold=1.0, start_percent=0.0, end_percent=1.0, verbose=True).run(ctx)
    cached, cached_calls = counted(cached)
    out = run(ctx, cached, positive, negative)
    assert len(plain_calls) == STEPS and 0 < len(cached_calls) < STEPS
    assert out.shape == reference.shape and torch.isfinite(out).all()


def test_context_windows_run_the_unet_once_per_window(setup):
    ctx, model, positive, negative = setup
    (windowed,) = ContextWindowsManual(model=model, context_length=8, context_overlap=4,
                                       context_schedule="standard_static", context_stride=1, closed_loop=False,
                                       fuse_method="pyramid", dim=3).run(ctx)
    windowed, calls = counted(windowed)
    out = run(ctx, windowed, positive, negative, shape=(1, 4, 8, 16))
    assert out.shape == (1, 4, 8, 16) and torch.isfinite(out).all()
    assert len(calls) == 3 * STEPS  # width 16 in windows of 8 overlapping by 4: 0-7, 4-11, 8-15
