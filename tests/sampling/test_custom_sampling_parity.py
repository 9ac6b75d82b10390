"""Custom sampling against ComfyUI 0.3.64's own results (tests/sampling/data, written by
tools/comfy_reference/sampling_reference.py on the same toy network, conditioning and seed 42):

- Sampler* nodes with non-default settings, run the SamplerCustomAdvanced way (CFGGuider, RandomNoise,
  KarrasScheduler's 6 steps);
- the DualCFG (regular, nested), Basic and PerpNeg guiders with euler;
- every CFG patch node's hook in model_options, with dpmpp_2m / karras through KSampler's path;
- AddNoise.
Tolerance: max |loom - comfy| <= 2e-5 * max |comfy| (as in test_comfy_parity).
"""

from types import SimpleNamespace

import pytest
import torch

from engine.sampling import cfg_patches, sample
from engine.sampling.guiders import BasicGuider, CFGGuider, DualCFGGuider, PerpNegGuider
from engine.sampling.noise_sources import RandomNoise
from nodes import custom_sampling, sampler_nodes
from nodes.sigma_nodes import KarrasScheduler
from tests.sampling.comfy_reference import (
    CFG,
    SEED,
    SHAPE,
    STEPS,
    SD15Model,
    conditioning,
    reference,
    toy_model,
)

pytestmark = pytest.mark.filterwarnings("ignore:Should have:UserWarning")

SAMPLER_NODES = {
    "SamplerEulerAncestral": lambda: sampler_nodes.SamplerEulerAncestral(eta=0.5, s_noise=0.8),
    "SamplerEulerAncestralCFGPP": lambda: sampler_nodes.SamplerEulerAncestralCFGPP(eta=0.7, s_noise=1.0),
    "SamplerLMS": lambda: sampler_nodes.SamplerLMS(order=2),
    "SamplerDPMPP_2M_SDE": lambda: sampler_nodes.SamplerDPMPP_2M_SDE(solver_type="heun", eta=0.7, s_noise=1.0,
                                                                    noise_device="cpu"),
    "SamplerDPMPP_3M_SDE": lambda: sampler_nodes.SamplerDPMPP_3M_SDE(eta=0.5, s_noise=1.0, noise_device="cpu"),
    "SamplerDPMPP_SDE": lambda: sampler_nodes.SamplerDPMPP_SDE(eta=0.8, s_noise=1.0, r=0.4, noise_device="cpu"),
    "SamplerDPMPP_2S_Ancestral": lambda: sampler_nodes.SamplerDPMPP_2S_Ancestral(eta=0.6, s_noise=1.0),
    "SamplerDPMAdaptative": lambda: sampler_nodes.SamplerDPMAdaptative(order=2, rtol=0.1, atol=0.01, h_init=0.1),
    "SamplerER_SDE/Reverse-time SDE": lambda: sampler_nodes.SamplerER_SDE(solver_type="Reverse-time SDE",
                                                                          max_stage=2, eta=0.5, s_noise=1.0),
    "SamplerER_SDE/ODE": lambda: sampler_nodes.SamplerER_SDE(solver_type="ODE", max_stage=3, eta=1.0, s_noise=1.0),
    "SamplerSASolver": lambda: sampler_nodes.SamplerSASolver(
        model=SD15Model(), eta=0.8, sde_start_percent=0.1, sde_end_percent=0.9, s_noise=1.0, predictor_order=2,
        corrector_order=3, use_pece=True, simple_order_2=True),
    "SamplerEulerCFGpp/alternative": lambda: sampler_nodes.SamplerEulerCFGpp(version="alternative"),
    "SamplerLCMUpscale": lambda: sampler_nodes.SamplerLCMUpscale(scale_ratio=1.5, scale_steps=2,
                                                                upscale_method="bilinear"),
}


def assert_latent_close(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert ours.shape == theirs.shape
    error = (ours - theirs).abs().max().item()
    assert error <= 2e-5 * theirs.abs().max().item(), f"max abs error {error:.3g}"


def run_custom(sampler, guider=None) -> torch.Tensor:
    """SamplerCustomAdvanced's path on the toy model: seeded noise, a guider, a sampler, Karras sigmas."""
    if guider is None:
        positive, negative = conditioning()
        guider = CFGGuider(toy_model())
        guider.set_conds(positive, negative)
        guider.set_cfg(CFG)
    empty = torch.zeros(SHAPE)
    (sigmas,) = KarrasScheduler(steps=STEPS).run(None)
    noise = RandomNoise(SEED).generate_noise({"samples": empty})
    return guider.sample(noise, empty, sampler, sigmas, seed=SEED)


@pytest.mark.parametrize("name", list(SAMPLER_NODES))
def test_sampler_node_with_settings_equals_comfyui(name):
    (sampler,) = SAMPLER_NODES[name]().run(None)
    assert_latent_close(run_custom(sampler), reference()[f"custom/{name}"])


def guider(kind: str):
    (positive,), (negative,) = (c for c in conditioning())
    middle, blank = [reference()["cond.middle"], {}], [torch.zeros(1, 3, 8), {}]
    if kind.startswith("DualCFGGuider"):
        made = DualCFGGuider(toy_model())
        made.set_conds([positive], [middle], [negative])
        made.set_cfg(3.0, 2.0, nested=kind.endswith("nested"))
    elif kind == "BasicGuider":
        made = BasicGuider(toy_model())
        made.set_conds([positive])
    else:
        made = PerpNegGuider(toy_model())
        made.set_conds([positive], [negative], [blank])
        made.set_cfg(4.0, 0.7)
    return made


@pytest.mark.parametrize("kind", ["DualCFGGuider/regular", "DualCFGGuider/nested", "BasicGuider", "PerpNegGuider"])
def test_guider_equals_comfyui(kind):
    (euler,) = custom_sampling.KSamplerSelect(sampler_name="euler").run(None)
    assert_latent_close(run_custom(euler, guider(kind)), reference()[f"guider/{kind}"])


PATCHES = {
    "RescaleCFG": {"sampler_cfg_function": cfg_patches.rescale_cfg(0.6)},
    "CFGNorm": {"sampler_post_cfg_function": [cfg_patches.cfg_norm(0.9)]},
    "CFGZeroStar": {"sampler_post_cfg_function": [cfg_patches.cfg_zero_star()]},
    "APG": {"sampler_pre_cfg_function": [cfg_patches.adaptive_projected_guidance(0.5, 2.0, 0.3)]},
    "Mahiro": {"sampler_post_cfg_function": [cfg_patches.mahiro()]},
    "TCFG": {"sampler_pre_cfg_function": [cfg_patches.tangential_damping_cfg()]},
    "PerpNeg": {"sampler_cfg_function": cfg_patches.perp_neg_cfg([[torch.zeros(1, 3, 8), {}]], 0.7)},
}


@pytest.mark.parametrize("name", list(PATCHES))
def test_cfg_patch_hook_equals_comfyui(name):
    positive, negative = conditioning()
    out = sample(toy_model(model_options=PATCHES[name]), SEED, STEPS, CFG, "dpmpp_2m", "karras", positive, negative,
                 {"samples": torch.zeros(SHAPE)})["samples"]
    assert_latent_close(out, reference()[f"patch/{name}"])


def test_add_noise_equals_comfyui():
    toy = toy_model()
    model = SimpleNamespace(model=toy, get_model_object=lambda name: toy.model_sampling)
    (sigmas,) = KarrasScheduler(steps=STEPS).run(None)
    latent = {"samples": reference()["latent.image"]}
    (noisy,) = custom_sampling.AddNoise(model=model, noise=RandomNoise(SEED), sigmas=sigmas[2:],
                                        latent_image=latent).run(None)
    assert_latent_close(noisy["samples"], reference()["node/AddNoise"])
