"""Reference outputs of ComfyUI 0.3.64's model-patch nodes, for tests/nodes/test_model_patch_nodes.py.

Runs ComfyUI's own node classes on a ModelPatcher whose UNet config has model_channels 32 (the tiny test
UNet's), takes the patch functions they register and evaluates them on seeded inputs; also ComfyUI's
ModelSampling* objects and SAG's helpers. Writes inputs and outputs to one safetensors file.

    /work/ref/comfy_venv/bin/python tools/comfy_reference/model_patches_reference.py /path/to/ComfyUI \
        tests/nodes/data/model_patches_reference.safetensors
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

MODEL_CHANNELS = 32


class NoUNet(torch.nn.Module):
    """Stands in for the diffusion model: the patch nodes only read the config and model_sampling."""

    def __init__(self, **_kw):
        super().__init__()
        self.dtype = torch.float32


def load(checkout: Path):
    sys.path.insert(0, str(checkout))
    from comfy.cli_args import args

    args.cpu = True
    import comfy.model_base
    import comfy.model_patcher
    import comfy.supported_models

    unet_config = dict(comfy.supported_models.SD15.unet_config, model_channels=MODEL_CHANNELS)
    config = comfy.supported_models.SD15(unet_config)
    model = comfy.model_base.BaseModel(config, comfy.model_base.ModelType.EPS, device=torch.device("cpu"),
                                       unet_model=NoUNet)
    return comfy.model_patcher.ModelPatcher(model, torch.device("cpu"), torch.device("cpu"))


def run_node(cls, **inputs):
    if hasattr(cls, "FUNCTION"):
        return getattr(cls(), cls.FUNCTION)(**inputs)[0]
    return cls.execute(**inputs).args[0]


def patches(model, name):
    return model.model_options["transformer_options"]["patches"][name]


def free_u(out: dict, patcher, gen):
    from comfy_extras.nodes_freelunch import FreeU, FreeU_V2

    for width, size in ((128, 4), (64, 8), (32, 8)):
        out[f"freeu.h.{width}"] = h = torch.randn(2, width, size, size, generator=gen)
        out[f"freeu.hsp.{width}"] = hsp = torch.randn(2, width, size, size, generator=gen)
        for name, cls in (("v1", FreeU), ("v2", FreeU_V2)):
            patch = patches(run_node(cls, model=patcher, b1=1.3, b2=1.4, s1=0.9, s2=0.2), "output_block_patch")[0]
            h_out, hsp_out = patch(h.clone(), hsp.clone(), {})
            out[f"freeu.{name}.h_out.{width}"], out[f"freeu.{name}.hsp_out.{width}"] = h_out, hsp_out


def hyper_tile(out: dict, patcher, gen):
    from comfy.ldm.modules.attention import optimized_attention
    from comfy_extras.nodes_hypertile import HyperTile

    model = run_node(HyperTile, model=patcher, tile_size=128, swap_size=1, max_depth=1, scale_depth=False)
    tile_in, tile_out = patches(model, "attn1_patch")[0], patches(model, "attn1_output_patch")[0]
    for tokens in (1024, 256):
        q, k, v = (torch.randn(2, tokens, 8, generator=gen) for _ in range(3))
        out[f"hypertile.q.{tokens}"], out[f"hypertile.k.{tokens}"], out[f"hypertile.v.{tokens}"] = q, k, v
        extra = {"original_shape": [2, 4, 32, 32], "n_heads": 2}
        q2, k2, v2 = tile_in(q, k, v, extra)
        out[f"hypertile.out.{tokens}"] = tile_out(optimized_attention(q2, k2, v2, 2), extra)


def self_attention_guidance(out: dict, gen):
    from comfy_extras.nodes_sag import attention_basic_with_sim, create_blur_map

    q, k, v = (torch.randn(1, 16, 8, generator=gen) for _ in range(3))
    out["sag.q"], out["sag.k"], out["sag.v"] = q, k, v
    out["sag.attn_out"], out["sag.scores"] = attention_basic_with_sim(q, k, v, heads=2)
    out["sag.x0"] = x0 = torch.randn(1, 4, 16, 16, generator=gen)
    out["sag.blurred"] = create_blur_map(x0, out["sag.scores"] * 8.0, 2.0, 1.0)


def model_sampling(out: dict, patcher, gen):
    from comfy_extras.nodes_model_advanced import (
        ModelSamplingContinuousEDM,
        ModelSamplingContinuousV,
        ModelSamplingDiscrete,
    )

    x = torch.randn(3, 4, 2, 2, generator=gen)
    raw = torch.randn(3, 4, 2, 2, generator=gen)
    out["ms.x"], out["ms.raw"] = x, raw
    cases = {f"discrete.{s}.{z}": (ModelSamplingDiscrete, {"sampling": s, "zsnr": z})
             for s in ("eps", "v_prediction", "lcm", "x0", "img_to_img") for z in (False, True)}
    cases |= {f"edm.{s}": (ModelSamplingContinuousEDM, {"sampling": s, "sigma_max": 120.0, "sigma_min": 0.002})
              for s in ("v_prediction", "edm", "edm_playground_v2.5", "eps")}
    cases["v"] = (ModelSamplingContinuousV, {"sampling": "v_prediction", "sigma_max": 500.0, "sigma_min": 0.03})
    for name, (cls, inputs) in cases.items():
        ms = run_node(cls, model=patcher, **inputs).get_model_object("model_sampling")
        sigmas = ms.sigmas[torch.tensor([0, len(ms.sigmas) // 3, len(ms.sigmas) - 1])]
        out[f"ms.{name}.sigmas"] = ms.sigmas.float()
        out[f"ms.{name}.timestep"] = ms.timestep(sigmas).float()
        out[f"ms.{name}.sigma"] = ms.sigma(ms.timestep(sigmas)).float()
        out[f"ms.{name}.input"] = ms.calculate_input(sigmas, x)
        out[f"ms.{name}.denoised"] = ms.calculate_denoised(sigmas, raw, x)
        out[f"ms.{name}.percent"] = torch.tensor([ms.percent_to_sigma(p) for p in (0.1, 0.5, 0.9)])


def cfg_hooks(out: dict, patcher, gen):
    from comfy_extras.nodes_eps import EpsilonScaling
    from comfy_extras.nodes_fresca import FreSca

    cond, uncond, x = (torch.randn(1, 4, 24, 24, generator=gen) for _ in range(3))
    out["cfg.cond"], out["cfg.uncond"], out["cfg.x"] = cond, uncond, x
    fresca = run_node(FreSca, model=patcher, scale_low=0.8, scale_high=1.25, freq_cutoff=5)
    out["fresca.cond"] = fresca.model_options["sampler_pre_cfg_function"][0](
        {"conds_out": [cond, uncond], "conds": [[1], [1]]})[0]
    eps = run_node(EpsilonScaling, model=patcher, scaling_factor=1.01)
    out["eps.denoised"] = eps.model_options["sampler_post_cfg_function"][0]({"denoised": cond, "input": x})


def differential_diffusion(out: dict, patcher, gen):
    from types import SimpleNamespace

    from comfy_extras.nodes_differential_diffusion import DifferentialDiffusion

    mask = torch.rand(1, 4, 8, 8, generator=gen)
    out["dd.mask"] = mask
    ms = patcher.get_model_object("model_sampling")
    sigmas = ms.sigmas[torch.tensor([999, 700, 400, 100])]
    out["dd.sigmas"] = sigmas
    for strength in (1.0, 0.6):
        fn = run_node(DifferentialDiffusion, model=patcher, strength=strength).model_options["denoise_mask_function"]
        extra = {"model": SimpleNamespace(inner_model=SimpleNamespace(model_sampling=ms)), "sigmas": sigmas}
        out[f"dd.out.{strength}"] = fn(sigmas[1:2], mask, extra_options=extra)


def deep_shrink(out: dict, patcher, gen):
    from comfy_extras.nodes_model_downscale import PatchModelAddDownscale

    h = torch.randn(1, 8, 16, 16, generator=gen)
    skip = torch.randn(1, 8, 16, 16, generator=gen)
    out["shrink.h"], out["shrink.skip"] = h, skip
    ms = patcher.get_model_object("model_sampling")
    sigma = torch.tensor([float(ms.percent_to_sigma(0.1))])
    for method in ("bicubic", "bislerp", "area"):
        model = run_node(PatchModelAddDownscale, model=patcher, block_number=3, downscale_factor=2.0,
                         start_percent=0.0, end_percent=0.35, downscale_after_skip=True,
                         downscale_method=method, upscale_method=method)
        shrink = patches(model, "input_block_patch_after_skip")[0]
        grow = patches(model, "output_block_patch")[0]
        small = shrink(h.clone(), {"block": ("input", 3), "sigmas": sigma})
        out[f"shrink.{method}.small"] = small
        out[f"shrink.{method}.grown"] = grow(small, skip, {})[0]


def token_merging(out: dict, patcher, gen):
    from comfy_extras.nodes_tomesd import TomePatchModel

    model = run_node(TomePatchModel, model=patcher, ratio=0.5)
    merge, unmerge = patches(model, "attn1_patch")[0], patches(model, "attn1_output_patch")[0]
    out["tome.q"] = q = torch.randn(2, 256, 8, generator=gen)
    torch.manual_seed(123)  # ToMe draws each cell's destination token from the global RNG
    merged = merge(q, q, q, {"original_shape": [2, 4, 16, 16]})[0]
    out["tome.merged"], out["tome.unmerged"] = merged, unmerge(merged * 2.0, {})


def main(checkout: str, target: str) -> None:
    patcher = load(Path(checkout))
    gen = torch.Generator().manual_seed(0)
    out: dict[str, torch.Tensor] = {}
    free_u(out, patcher, gen)
    hyper_tile(out, patcher, gen)
    self_attention_guidance(out, gen)
    model_sampling(out, patcher, gen)
    cfg_hooks(out, patcher, gen)
    differential_diffusion(out, patcher, gen)
    deep_shrink(out, patcher, gen)
    token_merging(out, patcher, gen)
    save_file({k: v.float().clone().contiguous() for k, v in out.items()}, target)
    print(f"wrote {len(out)} arrays to {target}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
