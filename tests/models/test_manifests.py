"""Full-size UNet and VAE, sized by detection from a real file's shapes, have exactly its keys and shapes."""

import pytest
import torch

from engine.models.detect import detect_checkpoint
from engine.models.unet import UNetModel
from engine.models.vae import AutoencoderKL

CASES = {
    # manifest: (family, context_dim, adm_in_channels, heads per level)
    "sd15": ("sd1", 768, None, (8, 8, 8, 8)),
    "sd21_768v": ("sd2", 1024, None, (5, 10, 20, 20)),
    "sdxl_base": ("sdxl", 2048, 2816, (5, 10, 20)),
    "sdxl_refiner": ("sdxl_refiner", 1280, 2560, (6, 12, 24, 24)),
}


def _component(tensors: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: tuple(v) for k, v in tensors.items() if k.startswith(prefix)}


def _shapes(module: torch.nn.Module) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize("name", CASES)
def test_full_size_models_match_the_reference_file_layout(name, manifest):
    tensors = manifest(name)["tensors"]
    family, context_dim, adm, heads = CASES[name]
    config = detect_checkpoint(tensors)
    assert config.family == family
    assert config.unet.context_dim == context_dim
    assert config.unet.adm_in_channels == adm
    mc = config.unet.model_channels
    assert tuple(config.unet.attention_heads(mc * m)[0] for m in config.unet.channel_mult) == heads
    with torch.device("meta"):
        unet = UNetModel(config.unet)
        vae = AutoencoderKL(config.vae)
    assert _shapes(unet) == _component(tensors, "model.diffusion_model.")
    assert _shapes(vae) == _component(tensors, "first_stage_model.")


def test_sdxl_depths_are_read_from_the_file(manifest):
    unet = detect_checkpoint(manifest("sdxl_base")["tensors"]).unet
    assert unet.transformer_depth == (0, 0, 2, 2, 10, 10)
    assert unet.transformer_depth_middle == 10
    assert unet.transformer_depth_output == (10, 10, 10, 2, 2, 2, 0, 0, 0)
    assert unet.use_linear_in_transformer and unet.channel_mult == (1, 2, 4)


def test_svd_is_recognised_with_its_image_encoder(manifest):
    config = detect_checkpoint(manifest("svd_img2vid")["tensors"])
    assert config.family == "svd" and config.prediction_type == "v"
    assert config.unet.in_channels == 8 and config.unet.adm_in_channels == 768
    assert [spec.kind for spec in config.text_encoders] == ["clip_vision_h"]
    assert not config.vae.use_quant_conv
