"""Reference outputs of ComfyUI 0.3.64's own UNet with model patches, for tests/compat/test_unet_patch_parity.py.

Builds ComfyUI's openaimodel.UNetModel in the tiny SD1.5 test UNet's sizes, loads the tiny checkpoint's UNet
weights (Loom's fixture, so both sides use the same numbers), registers patches the way ComfyUI's nodes and
packs do (an attn2 q/v patch, an attn1 replace, FreeU_V2, HyperTile, Deep Shrink, ToMe) and saves the
network outputs for seeded inputs.

    /work/ref/comfy_venv/bin/python tools/comfy_reference/unet_patches_reference.py /path/to/ComfyUI \
        tests/compat/data/unet_patches_reference.safetensors
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

REPO = Path(__file__).resolve().parents[2]
PREFIX = "model.diffusion_model."


def inputs() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(11)
    return {"x": torch.randn(2, 4, 16, 16, generator=gen), "timesteps": torch.tensor([500.0, 500.0]),
            "context": torch.randn(2, 5, 32, generator=gen), "sigmas": torch.tensor([14.0, 14.0])}


def comfy_unet(checkout: Path, weights: dict) -> torch.nn.Module:
    sys.path.insert(0, str(checkout))
    from comfy.cli_args import args

    args.cpu = True
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    unet = UNetModel(image_size=32, in_channels=4, model_channels=32, out_channels=4, num_res_blocks=[1, 1],
                     channel_mult=(1, 2), num_heads=8, use_spatial_transformer=True, transformer_depth=[1, 1],
                     transformer_depth_middle=1, transformer_depth_output=[1, 1, 1, 1], context_dim=32,
                     use_linear_in_transformer=False, legacy=False, dtype=torch.float32,
                     operations=comfy.ops.disable_weight_init)
    unet.load_state_dict(weights, strict=True)
    return unet.eval()


class Patcher:
    """What ComfyUI's patch nodes call on a MODEL, recording into model_options."""

    def __init__(self):
        self.model_options = {"transformer_options": {}}
        self.model = type("M", (), {"model_config": type("C", (), {"unet_config": {"model_channels": 32}})})()

    def clone(self):
        return self

    def set_model_patch(self, patch, name):
        to = self.model_options["transformer_options"]
        to.setdefault("patches", {}).setdefault(name, []).append(patch)

    def set_model_attn1_patch(self, patch):
        self.set_model_patch(patch, "attn1_patch")

    def set_model_attn1_output_patch(self, patch):
        self.set_model_patch(patch, "attn1_output_patch")

    def set_model_output_block_patch(self, patch):
        self.set_model_patch(patch, "output_block_patch")

    def set_model_input_block_patch_after_skip(self, patch):
        self.set_model_patch(patch, "input_block_patch_after_skip")

    def get_model_object(self, name):
        import comfy.model_sampling

        class Sampling(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.EPS):
            pass

        return Sampling()


def node_options(name: str) -> dict:
    from comfy_extras.nodes_freelunch import FreeU_V2
    from comfy_extras.nodes_hypertile import HyperTile
    from comfy_extras.nodes_model_downscale import PatchModelAddDownscale
    from comfy_extras.nodes_tomesd import TomePatchModel

    patcher = Patcher()
    if name == "freeu_v2":
        FreeU_V2().patch(patcher, 1.3, 1.4, 0.9, 0.2)
    elif name == "hypertile":
        HyperTile.execute(model=patcher, tile_size=32, swap_size=1, max_depth=0, scale_depth=False)
    elif name == "deep_shrink":
        PatchModelAddDownscale().patch(patcher, 1, 2.0, 0.0, 0.35, True, "bicubic", "bicubic")
    elif name == "tome":
        TomePatchModel.execute(model=patcher, ratio=0.5)
    return patcher.model_options["transformer_options"]


def hand_options(name: str) -> dict:
    if name == "attn2_qv":
        return {"patches": {"attn2_patch": [lambda n, c, v, extra: (n * 2.0, c, v * 0.5)]}}
    return {"patches_replace": {"attn1": {("middle", 0): lambda q, k, v, extra: v}}}


CASES = ("plain", "attn2_qv", "attn1_replace", "freeu_v2", "hypertile", "deep_shrink", "tome")


def options_for(name: str) -> dict:
    if name == "plain":
        return {}
    if name in ("attn2_qv", "attn1_replace"):
        return hand_options(name)
    return node_options(name)


def main(checkout: str, target: str) -> None:
    sys.path.insert(0, str(REPO))
    from tests.fixtures.checkpoints import make_tiny_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        state = load_file(str(make_tiny_checkpoint("sd15", Path(folder) / "sd15.safetensors")))
    weights = {k[len(PREFIX):]: v for k, v in state.items() if k.startswith(PREFIX)}
    unet = comfy_unet(Path(checkout), weights)
    data = inputs()
    out = {}
    for name in CASES:
        options = {**options_for(name), "cond_or_uncond": [0, 1], "sigmas": data["sigmas"]}
        torch.manual_seed(123)  # ToMe draws its destination tokens from the global RNG
        with torch.no_grad():
            out[name] = unet(data["x"], data["timesteps"], data["context"], transformer_options=options)
    save_file({k: v.contiguous() for k, v in out.items()}, target)
    print(f"wrote {len(out)} outputs to {target}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
