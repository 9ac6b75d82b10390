"""Loom's samplers, schedulers and KSampler path against numbers ComfyUI 0.3.64 itself produced.

The reference (tests/sampling/data/comfy_sampling_reference.safetensors) was written by
tools/comfy_reference/sampling_reference.py, which runs ComfyUI's comfy.sample.sample around the toy
network rebuilt here (comfy_reference.ToyUNet) inside ComfyUI's own SD1.5 model class. Tolerances:
- final latents: max |loom - comfy| <= 2e-5 * max |comfy| (float32 rounding over up to ~60 network
  calls in a different operation order); LOOSE pairs (see below) 5e-4;
- sigma tables: relative 1e-6 per entry (the same float32 formulas).
"""

import pytest
import torch

from engine.sampling import SAMPLERS, SCHEDULERS, sample
from engine.sampling.ksampler import schedule_for
from tests.sampling.comfy_reference import (
    CFG,
    SEED,
    SHAPE,
    STEPS,
    comfy_order,
    conditioning,
    reference,
    toy_model,
)

# Pairs whose result amplifies float32 rounding of the network output ~100x: lms's Adams weights reach
# 1e4 on linear_quadratic's near-equal first steps, and deis / er_sde take differences of them too.
LOOSE = {("lms", "linear_quadratic"), ("deis", "linear_quadratic"), ("er_sde", "linear_quadratic")}

pytestmark = pytest.mark.filterwarnings("ignore:Should have:UserWarning")


def assert_latent_close(ours: torch.Tensor, theirs: torch.Tensor, rel: float) -> None:
    error = (ours - theirs).abs().max().item()
    assert error <= rel * theirs.abs().max().item(), f"max abs error {error:.3g}, scale {theirs.abs().max():.3g}"


def run(sampler: str, scheduler: str, latent: torch.Tensor, denoise: float = 1.0) -> torch.Tensor:
    positive, negative = conditioning()
    return sample(toy_model(), SEED, STEPS, CFG, sampler, scheduler, positive, negative, {"samples": latent},
                  denoise=denoise)["samples"]


def test_sampler_and_scheduler_lists_are_comfyuis_in_order():
    assert list(SAMPLERS) == comfy_order("samplers")
    assert list(SCHEDULERS) == comfy_order("schedulers")


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_txt2img_final_latent_equals_comfyui(sampler, scheduler):
    ours = run(sampler, scheduler, torch.zeros(SHAPE))
    assert_latent_close(ours, reference()[f"run/{sampler}/{scheduler}"], 5e-4 if (sampler, scheduler) in LOOSE else 2e-5)


@pytest.mark.parametrize("scheduler", ["normal", "karras"])
@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_img2img_at_denoise_0_6_equals_comfyui(sampler, scheduler):
    ours = run(sampler, scheduler, reference()["latent.image"], denoise=0.6)
    assert_latent_close(ours, reference()[f"img2img/{sampler}/{scheduler}"], 2e-5)


def sigma_keys():
    """Every table but kl_optimal at one step, which is NaN in ComfyUI (0 / 0) and sigma_max in Loom."""
    return [key for key in reference() if key.startswith("sigmas/") and not key.startswith("sigmas/kl_optimal/1/")]


@pytest.mark.parametrize("key", sigma_keys())
def test_ksampler_schedule_equals_comfyui(key):
    _, scheduler, steps, denoise, sampler = key.split("/")
    theirs = reference()[key]
    ours = schedule_for(toy_model(), int(steps), scheduler, sampler, float(denoise))
    torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=0)
