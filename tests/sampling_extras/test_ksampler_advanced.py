"""KSamplerAdvanced against ComfyUI 0.3.64's own node (tests/sampling_extras/data, written by
tools/comfy_reference/sampling_extras_reference.py): the toy network of tests/sampling, seed 42, cfg 3.5,
6 steps, from the reference image latent; add_noise, a step range and leftover noise per case, and a
base -> refiner hand-off. Tolerance: max |loom - comfy| <= 2e-5 * max |comfy|.
"""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.sampling import sample
from nodes.sampling import KSamplerAdvanced
from tests.sampling.comfy_reference import CFG, SEED, SHAPE, STEPS, conditioning, reference, toy_model

DATA = load_file(str(Path(__file__).parent / "data" / "comfy_sampling_extras.safetensors"))
CASES = {  # name: (add_noise, start_at_step, end_at_step, return_with_leftover_noise)
    "first_half_leftover": ("enable", 0, 3, "enable"),
    "first_half_full": ("enable", 0, 3, "disable"),
    "middle_no_noise": ("disable", 2, 5, "disable"),
    "start_past_end": ("enable", 6, 10000, "disable"),
}


def advanced(latent: dict, add_noise: str, start: int, end: int, leftover: str, seed: int = SEED,
             sampler_name: str = "euler", scheduler: str = "karras") -> torch.Tensor:
    positive, negative = conditioning()
    node = KSamplerAdvanced(model=None, add_noise=add_noise, noise_seed=seed, steps=STEPS, cfg=CFG,
                            sampler_name=sampler_name, scheduler=scheduler, positive=positive, negative=negative,
                            latent_image=latent, start_at_step=start, end_at_step=end,
                            return_with_leftover_noise=leftover)
    return sample(toy_model(), latent=latent, **node.settings())


def assert_latent_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    error = (ours - theirs).abs().max().item()
    assert error <= 2e-5 * theirs.abs().max().item(), f"max abs error {error:.3g}"


@pytest.mark.parametrize("case", list(CASES))
def test_step_range_noise_and_leftover_equal_comfyui(case):
    out = advanced({"samples": reference()["latent.image"].clone()}, *CASES[case])
    assert_latent_close(out["samples"], DATA[f"advanced/{case}"])


def test_base_to_refiner_handoff_equals_comfyui():
    first = advanced({"samples": torch.zeros(SHAPE)}, "enable", 0, 4, "enable", sampler_name="dpmpp_2m",
                     scheduler="normal")
    second = advanced(first, "disable", 4, 10000, "disable", seed=0, sampler_name="dpmpp_2m", scheduler="normal")
    assert_latent_close(second["samples"], DATA["advanced/handoff"])
