"""Numerics: Loom's UNet and VAE equal diffusers' models loaded with the same tiny weights, converted by
diffusers' own LDM -> diffusers single-file conversion (a test-only oracle)."""

import pytest
import torch

from engine.models.blocks import timestep_embedding
from engine.models.checkpoint import load_weights, strip_prefix
from engine.models.detect import detect_checkpoint
from engine.models.unet import UNetConfig, UNetModel
from engine.models.vae import AutoencoderKL, VAEConfig
from tests.fixtures.checkpoints import tiny_checkpoint_state_dict
from tests.needs import need_module

single_file = need_module("diffusers.loaders.single_file_utils", "pip install -e '.[test]'")
diffusers = need_module("diffusers", "pip install -e '.[test]'")

TOLERANCE = 1e-4


def _ldm_original_config(unet: UNetConfig, vae: VAEConfig) -> dict:
    """The tiny model described the way an LDM/sgm yaml describes a real one."""
    levels = range(len(unet.channel_mult))
    first_block = [sum(unet.num_res_blocks[:level]) for level in levels]
    level_depth = [unet.transformer_depth[i] or unet.transformer_depth_middle for i in first_block]
    params = {
        "in_channels": unet.in_channels,
        "out_channels": unet.out_channels,
        "model_channels": unet.model_channels,
        "channel_mult": list(unet.channel_mult),
        "num_res_blocks": unet.num_res_blocks[0],
        "attention_resolutions": [2**lv for lv in levels if unet.transformer_depth[first_block[lv]]],
        "transformer_depth": level_depth,
        "context_dim": unet.context_dim,
        "use_linear_in_transformer": unet.use_linear_in_transformer,
    }
    if unet.num_heads:
        params["num_heads"] = unet.num_heads
    else:
        params["num_head_channels"] = unet.num_head_channels
    if unet.adm_in_channels:
        params.update(num_classes="sequential", adm_in_channels=unet.adm_in_channels)
    ddconfig = {"ch": vae.ch, "ch_mult": list(vae.ch_mult), "num_res_blocks": vae.num_res_blocks,
                "z_channels": vae.z_channels, "in_channels": vae.in_channels, "out_ch": vae.out_ch}
    return {"model": {"params": {"unet_config": {"params": params},
                                 "first_stage_config": {"params": {"ddconfig": ddconfig}}}}}


def _diffusers_unet(checkpoint: dict, unet: UNetConfig, vae: VAEConfig):
    config = single_file.create_unet_diffusers_config_from_ldm(_ldm_original_config(unet, vae), checkpoint)
    # diffusers' "attention_head_dim" is the head count; give it the count Loom's rule yields per level.
    config["attention_head_dim"] = [unet.attention_heads(unet.model_channels * m)[0] for m in unet.channel_mult]
    if unet.adm_in_channels:  # diffusers spots SDXL by full-size context widths only
        config.update(class_embed_type=None, addition_embed_type="text_time", addition_time_embed_dim=256)
    model = diffusers.UNet2DConditionModel(**config)
    model.load_state_dict(single_file.convert_ldm_unet_checkpoint(checkpoint, config), strict=True)
    return model.eval()


@pytest.mark.parametrize("family", ["sd15", "sd21v", "sdxl", "sdxl_refiner"])
def test_unet_matches_diffusers(family):
    checkpoint = tiny_checkpoint_state_dict(family)
    config = detect_checkpoint(checkpoint)
    ours = UNetModel(config.unet).eval()
    load_weights(ours, strip_prefix(checkpoint, "model.diffusion_model."), "UNet")
    reference = _diffusers_unet(checkpoint, config.unet, config.vae)

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 4, 16, 16, generator=gen)
    t = torch.tensor([999.0, 10.5])
    context = torch.randn(2, 7, config.unet.context_dim, generator=gen)
    y, added = None, None
    if config.unet.adm_in_channels:
        pooled_dim = 32
        n_sizes = (config.unet.adm_in_channels - pooled_dim) // 256
        pooled = torch.randn(2, pooled_dim, generator=gen)
        time_ids = torch.tensor([[1024.0, 768.0, 0.0, 16.0, 1024.0, 1024.0][:n_sizes]] * 2)
        y = torch.cat([pooled, timestep_embedding(time_ids.flatten(), 256).reshape(2, -1)], dim=1)
        added = {"text_embeds": pooled, "time_ids": time_ids}
    with torch.no_grad():
        got = ours(x, t, context, y=y)
        want = reference(x, t, context, added_cond_kwargs=added).sample
    assert want.abs().max() > 0.05
    assert (got - want).abs().max().item() < TOLERANCE


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_vae_matches_diffusers(family):
    checkpoint = tiny_checkpoint_state_dict(family)
    config = detect_checkpoint(checkpoint)
    ours = AutoencoderKL(config.vae).eval()
    load_weights(ours, strip_prefix(checkpoint, "first_stage_model."), "VAE")
    original = _ldm_original_config(config.unet, config.vae)
    vae_config = single_file.create_vae_diffusers_config_from_ldm(original, checkpoint)
    reference = diffusers.AutoencoderKL(**vae_config)
    reference.load_state_dict(single_file.convert_ldm_vae_checkpoint(checkpoint, vae_config), strict=True)
    reference.eval()

    gen = torch.Generator().manual_seed(2)
    images = torch.rand(1, 3, 48, 64, generator=gen) * 2 - 1
    latents = torch.randn(1, 4, 6, 8, generator=gen)
    with torch.no_grad():
        assert (ours.encode(images) - reference.encode(images).latent_dist.mean).abs().max() < TOLERANCE
        assert (ours.decode(latents) - reference.decode(latents).sample).abs().max() < TOLERANCE


def test_multi_head_linear_attention_matches_diffusers():
    """64-wide heads (the SD2/SDXL rule) with two heads per block, which the tiny fixtures never reach."""
    config = UNetConfig(
        in_channels=4, out_channels=4, model_channels=64, channel_mult=(1, 2), num_res_blocks=(1, 1),
        transformer_depth=(1, 1), transformer_depth_middle=1, transformer_depth_output=(1, 1, 1, 1),
        context_dim=24, num_head_channels=64, use_linear_in_transformer=True,
    )
    assert config.attention_heads(128) == (2, 64)
    torch.manual_seed(0)
    ours = UNetModel(config).eval()
    checkpoint = {"model.diffusion_model." + k: v for k, v in ours.state_dict().items()}
    reference = _diffusers_unet(checkpoint, config, VAEConfig())
    gen = torch.Generator().manual_seed(3)
    x, context = torch.randn(1, 4, 8, 8, generator=gen), torch.randn(1, 5, 24, generator=gen)
    t = torch.tensor([321.0])
    with torch.no_grad():
        assert (ours(x, t, context) - reference(x, t, context).sample).abs().max() < TOLERANCE
