"""The model-patch nodes register patches that compute what ComfyUI 0.3.64's do: each patch function taken
from Loom's MODEL after the node ran is evaluated on the inputs ComfyUI's own node was given, and compared
with ComfyUI's outputs (tools/comfy_reference/model_patches_reference.py; float32, 1e-5 unless noted)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

from engine.models.attention import attention
from nodes.attention_guidance import attention_with_scores, blurred_where_attended
from nodes.model_sampling_nodes import (
    DifferentialDiffusion,
    ModelSamplingContinuousEDM,
    ModelSamplingContinuousV,
    ModelSamplingDiscrete,
    ModelSamplingFlux,
)
from nodes.token_merging import TomePatchModel
from nodes.unet_patches import EpsilonScaling, FreeU, FreeU_V2, FreSca, HyperTile, PatchModelAddDownscale
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.tiny_model import tiny_model

REF = load_file(Path(__file__).parent / "data" / "model_patches_reference.safetensors")


def close(actual, expected, tol=1e-5):
    torch.testing.assert_close(actual.float(), expected, rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tiny_model(make_tiny_checkpoint("sd15", tmp_path_factory.mktemp("patch_nodes") / "sd15.safetensors"))


def patch_of(model, name):
    return model.model_options["transformer_options"]["patches"][name][0]


@pytest.mark.parametrize("cls, tag", [(FreeU, "v1"), (FreeU_V2, "v2")])
@pytest.mark.parametrize("width", [128, 64, 32])
def test_free_u_rescales_backbone_and_skip_like_comfyui(run_node, model, cls, tag, width):
    (patched,) = run_node(cls, model=model, b1=1.3, b2=1.4, s1=0.9, s2=0.2)
    h, skip = patch_of(patched, "output_block_patch")(REF[f"freeu.h.{width}"].clone(),
                                                       REF[f"freeu.hsp.{width}"].clone(), {})
    close(h, REF[f"freeu.{tag}.h_out.{width}"])
    close(skip, REF[f"freeu.{tag}.hsp_out.{width}"])
    assert model.model_options["transformer_options"] == {}


@pytest.mark.parametrize("tokens", [1024, 256])
def test_hyper_tile_attention_equals_comfyui(run_node, model, tokens):
    (patched,) = run_node(HyperTile, model=model, tile_size=128, swap_size=1, max_depth=1, scale_depth=False)
    extra = {"original_shape": [2, 4, 32, 32], "n_heads": 2}
    q, k, v = patch_of(patched, "attn1_patch")(*(REF[f"hypertile.{n}.{tokens}"] for n in "qkv"), extra)
    out = patch_of(patched, "attn1_output_patch")(attention(q, k, v, 2), extra)
    close(out, REF[f"hypertile.out.{tokens}"])


def test_self_attention_guidance_scores_and_blur_equal_comfyui():
    out, scores = attention_with_scores(REF["sag.q"], REF["sag.k"], REF["sag.v"], 2)
    close(out, REF["sag.attn_out"])
    close(scores, REF["sag.scores"])
    close(blurred_where_attended(REF["sag.x0"], scores * 8.0, 2.0, 1.0), REF["sag.blurred"])


CASES = [(f"discrete.{s}.{z}", ModelSamplingDiscrete, {"sampling": s, "zsnr": z})
         for s in ("eps", "v_prediction", "lcm", "x0", "img_to_img") for z in (False, True)]
CASES += [(f"edm.{s}", ModelSamplingContinuousEDM, {"sampling": s, "sigma_max": 120.0, "sigma_min": 0.002})
          for s in ("v_prediction", "edm", "edm_playground_v2.5", "eps")]
CASES += [("v", ModelSamplingContinuousV, {"sampling": "v_prediction", "sigma_max": 500.0, "sigma_min": 0.03})]


@pytest.mark.parametrize("name, cls, inputs", CASES, ids=[c[0] for c in CASES])
def test_model_sampling_nodes_equal_comfyui(run_node, model, name, cls, inputs):
    (patched,) = run_node(cls, model=model, **inputs)
    ms = patched.get_model_object("model_sampling")
    close(ms.sigmas, REF[f"ms.{name}.sigmas"], 1e-4)
    sigmas = ms.sigmas[torch.tensor([0, len(ms.sigmas) // 3, len(ms.sigmas) - 1])]
    close(ms.timestep(sigmas), REF[f"ms.{name}.timestep"], 1e-4)
    close(ms.sigma(ms.timestep(sigmas)), REF[f"ms.{name}.sigma"], 1e-4)
    close(ms.calculate_input(sigmas, REF["ms.x"]), REF[f"ms.{name}.input"], 1e-4)
    close(ms.calculate_denoised(sigmas, REF["ms.raw"], REF["ms.x"]), REF[f"ms.{name}.denoised"], 1e-4)
    close(torch.tensor([ms.percent_to_sigma(p) for p in (0.1, 0.5, 0.9)]), REF[f"ms.{name}.percent"], 1e-4)
    assert model.get_model_object("model_sampling") is not ms


def test_playground_sampling_also_switches_the_latent_format(run_node, model):
    (patched,) = run_node(ModelSamplingContinuousEDM, model=model, sampling="edm_playground_v2.5",
                          sigma_max=120.0, sigma_min=0.002)
    latent = torch.randn(1, 4, 2, 2)
    fmt = patched.get_model_object("latent_format")
    close(fmt.process_out(fmt.process_in(latent)), latent)
    assert not torch.allclose(fmt.process_in(latent), latent * 0.5)


def test_fresca_and_epsilon_scaling_hooks_equal_comfyui(run_node, model):
    (fresca,) = run_node(FreSca, model=model, scale_low=0.8, scale_high=1.25, freq_cutoff=5)
    hook = fresca.model_options["sampler_pre_cfg_function"][0]
    close(hook({"conds_out": [REF["cfg.cond"], REF["cfg.uncond"]], "conds": [[1], [1]]})[0], REF["fresca.cond"])
    (eps,) = run_node(EpsilonScaling, model=model, scaling_factor=1.01)
    close(eps.model_options["sampler_post_cfg_function"][0]({"denoised": REF["cfg.cond"], "input": REF["cfg.x"]}),
          REF["eps.denoised"])


@pytest.mark.parametrize("strength", [1.0, 0.6])
def test_differential_diffusion_mask_equals_comfyui(run_node, model, strength):
    (patched,) = run_node(DifferentialDiffusion, model=model, strength=strength)
    inner = SimpleNamespace(model_sampling=model.get_model_object("model_sampling"))
    sampling_view = SimpleNamespace(inner_model=inner)
    fn = patched.model_options["denoise_mask_function"]
    sigmas = REF["dd.sigmas"]
    close(fn(sigmas[1:2], REF["dd.mask"], extra_options={"model": sampling_view, "sigmas": sigmas}),
          REF[f"dd.out.{strength}"])


@pytest.mark.parametrize("method", ["bicubic", "bislerp", "area"])
def test_deep_shrink_resizes_like_comfyui(run_node, model, method):
    (patched,) = run_node(PatchModelAddDownscale, model=model, block_number=3, downscale_factor=2.0,
                          start_percent=0.0, end_percent=0.35, downscale_after_skip=True,
                          downscale_method=method, upscale_method=method)
    ms = model.get_model_object("model_sampling")
    sigma = torch.tensor([float(ms.percent_to_sigma(0.1))])
    small = patch_of(patched, "input_block_patch_after_skip")(REF["shrink.h"].clone(),
                                                               {"block": ("input", 3), "sigmas": sigma})
    close(small, REF[f"shrink.{method}.small"])
    close(patch_of(patched, "output_block_patch")(small, REF["shrink.skip"], {})[0], REF[f"shrink.{method}.grown"])
    untouched = patch_of(patched, "input_block_patch_after_skip")(REF["shrink.h"], {"block": ("input", 2),
                                                                                    "sigmas": sigma})
    assert untouched is REF["shrink.h"]


def test_token_merging_merges_and_unmerges_like_comfyui(run_node, model):
    (patched,) = run_node(TomePatchModel, model=model, ratio=0.5)
    q = REF["tome.q"]
    torch.manual_seed(123)
    merged = patch_of(patched, "attn1_patch")(q, q, q, {"original_shape": [2, 4, 16, 16]})[0]
    close(merged, REF["tome.merged"])
    close(patch_of(patched, "attn1_output_patch")(merged * 2.0, {}), REF["tome.unmerged"])
    assert merged.shape[1] < q.shape[1]


def test_other_family_sampling_nodes_name_what_loom_lacks(run_node, model):
    with pytest.raises(NotImplementedError, match="ModelSamplingFlux .*Flux models.*SD1.x"):
        run_node(ModelSamplingFlux, model=model, max_shift=1.15, base_shift=0.5, width=1024, height=1024)
