"""Every kohya module name of a real SD1.5 / SDXL LoRA (reference manifests) reaches a weight of the right
shape in the full-size models, built on the meta device."""

import pytest
import torch

from engine.models.clip import load_clip
from engine.models.detect import infer_unet_config
from engine.models.lora.keys import clip_names, unet_names
from engine.values.model import TextTowers

UNET = "model.diffusion_model."


def _meta(tensors: dict, prefixes) -> dict:
    return {k: torch.empty(shape, device="meta") for k, shape in tensors.items() if k.startswith(prefixes)}


@pytest.mark.parametrize(("checkpoint", "lora", "family", "text"), [
    ("sd15", "lora_kohya_sd15", "sd1", ("te",)),
    ("sdxl_base", "lora_kohya_sdxl", "sdxl", ("te1", "te2")),
])
def test_every_kohya_module_maps_to_a_weight_of_its_shape(manifest, checkpoint, lora, family, text):
    tensors = manifest(checkpoint)["tensors"]
    modules = manifest(lora)
    unet_shapes = {k[len(UNET):]: tuple(v) for k, v in tensors.items() if k.startswith(UNET)}
    names = unet_names(infer_unet_config(unet_shapes), unet_shapes)
    for group in ("unet_attn", "unet_conv_extra"):
        for module, shape in modules[group].items():
            assert module in names, module
            assert unet_shapes[names[module]] == tuple(shape), module

    towers = TextTowers(load_clip(_meta(tensors, ("cond_stage_model.", "conditioner.")), family))
    clip_shapes = {k: tuple(v.shape) for k, v in towers.state_dict().items()}
    names = clip_names(clip_shapes)
    for group in text:
        for module, shape in modules[group].items():
            assert module in names, module
            assert clip_shapes[names[module]] == tuple(shape), module


@pytest.mark.parametrize(("checkpoint", "diffusers"), [("sd15", "diffusers_unet_sd15"),
                                                        ("sdxl_base", "diffusers_unet_sdxl")])
def test_every_diffusers_unet_module_maps_to_the_ldm_weight_of_its_shape(manifest, checkpoint, diffusers):
    ldm = {k[len(UNET):]: tuple(v) for k, v in manifest(checkpoint)["tensors"].items() if k.startswith(UNET)}
    names = unet_names(infer_unet_config(ldm), ldm)
    weights = {k: tuple(v) for k, v in manifest(diffusers)["tensors"].items() if k.endswith(".weight")}
    assert len(set(weights)) == len({names[f"unet.{k.removesuffix('.weight')}"] for k in weights})
    for key, shape in weights.items():
        module = key.removesuffix(".weight")
        assert ldm[names[f"unet.{module}"]] == shape, key
        assert names[module] == names[f"unet.{module}"] == names["lora_unet_" + module.replace(".", "_")]
