"""The video UNet and the temporal decoder agree with diffusers' UNetSpatioTemporalConditionModel and
AutoencoderKLTemporalDecoder on the same tiny weights (diffusers has no SVD single-file key conversion,
so the LDM -> diffusers key map is written here)."""

import re

import torch

from engine.models.blocks import timestep_embedding
from engine.models.video_unet import VideoUNet
from engine.models.video_vae import VideoAutoencoder
from tests.fixtures.svd_checkpoint import (
    SVD_CONTEXT,
    TINY_SVD_UNET,
    TINY_SVD_VAE,
    tiny_svd_unet_state_dict,
    tiny_svd_vae_state_dict,
)
from tests.needs import need_module

diffusers = need_module("diffusers", "pip install -e '.[test]'")

RES = {"in_layers.0": "norm1", "in_layers.2": "conv1", "emb_layers.1": "time_emb_proj",
       "out_layers.0": "norm2", "out_layers.3": "conv2", "skip_connection": "conv_shortcut"}
VAE_RES = {"in_layers.0": "norm1", "in_layers.2": "conv1", "out_layers.0": "norm2", "out_layers.3": "conv2"}


def _resblock(rest: str) -> str:
    if rest.startswith("time_mixer."):
        return rest
    stack = rest.startswith("time_stack.")
    rest = rest.removeprefix("time_stack.")
    layer, param = rest.rsplit(".", 1)
    return f"{'temporal' if stack else 'spatial'}_res_block.{RES[layer]}.{param}"


def _transformer(rest: str) -> str:
    rest = re.sub(r"^time_stack\.", "temporal_transformer_blocks.", rest)
    return re.sub(r"^time_pos_embed\.(\d)", lambda m: f"time_pos_embed.linear_{1 + int(m[1]) // 2}", rest)


def unet_to_diffusers(sd: dict, per_level: int) -> dict:
    out = {}
    top = {"time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
           "label_emb.0.0": "add_embedding.linear_1", "label_emb.0.2": "add_embedding.linear_2",
           "input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out"}
    for key, value in sd.items():
        stem, param = key.rsplit(".", 1)
        if stem in top:
            out[f"{top[stem]}.{param}"] = value
            continue
        kind, index, layer, rest = re.match(r"(\w+?)\.(\d+)\.(?:(\d+)\.)?(.*)", key).groups()
        if kind == "middle_block":
            name = {"0": "resnets.0", "1": "attentions.0", "2": "resnets.1"}[index]
            out[f"mid_block.{name}.{_resblock(rest) if 'resnets' in name else _transformer(rest)}"] = value
            continue
        index, layer = int(index), int(layer)
        if kind == "input_blocks":
            level, j = divmod(index - 1, per_level + 1)
            block = f"down_blocks.{level}"
            if j == per_level:
                out[f"{block}.downsamplers.0.conv.{param}"] = value
                continue
        else:
            level, j = divmod(index, per_level + 1)
            block = f"up_blocks.{level}"
        if layer == 0:
            out[f"{block}.resnets.{j}.{_resblock(rest)}"] = value
        elif rest.startswith("conv."):
            out[f"{block}.upsamplers.0.conv.{param}"] = value
        else:
            out[f"{block}.attentions.{j}.{_transformer(rest)}"] = value
    return out


def decoder_to_diffusers(sd: dict, levels: int) -> dict:
    out = {}
    for key, value in sd.items():
        if not key.startswith("decoder."):
            continue
        k = key.removeprefix("decoder.")
        k = k.replace("conv_out.time_mix_conv.", "time_conv_out.").replace("norm_out.", "conv_norm_out.")
        k = re.sub(r"^up\.(\d+)\.", lambda m: f"up_blocks.{levels - 1 - int(m[1])}.", k)
        k = k.replace("upsample.conv", "upsamplers.0.conv").replace(".block.", ".resnets.")
        k = k.replace("mid.block_1.", "mid_block.resnets.0.").replace("mid.block_2.", "mid_block.resnets.1.")
        match = re.match(r"(.*resnets\.\d+)\.(.*)", k)
        if match:
            head, rest = match.groups()
            if rest == "mix_factor":
                rest = "time_mixer.mix_factor"
            elif rest.startswith("time_stack."):
                layer, param = rest.removeprefix("time_stack.").rsplit(".", 1)
                rest = f"temporal_res_block.{VAE_RES[layer]}.{param}"
            else:
                rest = "spatial_res_block." + rest.replace("nin_shortcut", "conv_shortcut")
            k = f"{head}.{rest}"
        if k.startswith("mid.attn_1."):
            name, param = k.removeprefix("mid.attn_1.").split(".")
            name = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}[name]
            value = value.reshape(value.shape[:2]) if value.ndim == 4 else value
            k = f"mid_block.attentions.0.{name}.{param}"
        out["decoder." + k] = value
    return out


def test_video_unet_matches_diffusers():
    sd = tiny_svd_unet_state_dict(seed=3)
    ours = VideoUNet(TINY_SVD_UNET).eval()
    ours.load_state_dict(sd)
    cfg = TINY_SVD_UNET
    reference = diffusers.UNetSpatioTemporalConditionModel(
        in_channels=8, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=SVD_CONTEXT, num_attention_heads=(1, 1), projection_class_embeddings_input_dim=768,
    ).eval()
    reference.load_state_dict(unet_to_diffusers(sd, cfg.num_res_blocks[0]), strict=True)

    gen = torch.Generator().manual_seed(0)
    videos, frames = 2, 5
    x = torch.randn(videos, frames, 8, 16, 16, generator=gen)
    t = torch.tensor([0.4, -1.3])
    context = torch.randn(videos, 1, SVD_CONTEXT, generator=gen)
    numbers = torch.tensor([[5.0, 127.0, 0.02], [6.0, 40.0, 0.0]])
    with torch.no_grad():
        expected = reference(x, t, context, numbers).sample
        y = timestep_embedding(numbers.reshape(-1), 256).reshape(videos, -1)
        got = ours(x.flatten(0, 1), t.repeat_interleave(frames), context.repeat_interleave(frames, dim=0),
                   y=y.repeat_interleave(frames, dim=0), num_video_frames=frames)
    assert got.shape == (videos * frames, 4, 16, 16)
    torch.testing.assert_close(got, expected.flatten(0, 1), atol=2e-4, rtol=1e-4)


def test_temporal_decoder_matches_diffusers():
    sd = tiny_svd_vae_state_dict(seed=4)
    ours = VideoAutoencoder(TINY_SVD_VAE).eval()
    ours.load_state_dict(sd)
    reference = diffusers.AutoencoderKLTemporalDecoder(
        down_block_types=("DownEncoderBlock2D",) * 4, block_out_channels=(32, 32, 64, 64),
        layers_per_block=TINY_SVD_VAE.num_res_blocks,
        latent_channels=4).eval()
    missing = reference.load_state_dict(decoder_to_diffusers(sd, len(TINY_SVD_VAE.ch_mult)), strict=False)
    assert not missing.unexpected_keys
    assert all(not k.startswith("decoder.") for k in missing.missing_keys)

    frames = 6
    z = torch.randn(frames, 4, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = reference.decoder(z, image_only_indicator=torch.zeros(1, frames), num_frames=frames)
        got = ours.decode(z, chunk_size=frames)
        chunked = ours.decode(z, chunk_size=3)
    torch.testing.assert_close(got, expected, atol=2e-4, rtol=1e-4)
    assert chunked.shape == got.shape and not torch.allclose(chunked, got, atol=1e-4)
