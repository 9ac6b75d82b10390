"""The blocks' in-place norm+SiLU and residual steps (a memory pass and an allocation less each) give exactly
the out-of-place results, and never write into the tensors a caller passed in."""

import torch
import torch.nn.functional as F

from engine.models.blocks import ResBlock
from engine.models.unet import UNetModel
from engine.models.vae import ResnetBlock
from tests.fixtures.checkpoints import TINY_UNETS


def _seeded(module: torch.nn.Module) -> torch.nn.Module:
    """Random weights with non-trivial norm scales and biases, so every step shows in the output."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in module.parameters():
            scale = param.shape[1:].numel() ** -0.5 if param.dim() > 1 else 0.3
            param.copy_(torch.randn(param.shape, generator=gen) * scale + (1.0 if param.dim() == 1 else 0.0))
    return module.eval()


def _norm_silu_conv(norm, conv, x):
    return conv(F.silu(F.group_norm(x, norm.num_groups, norm.weight, norm.bias, norm.eps)))


def test_unet_resblock_equals_the_out_of_place_composition_and_keeps_its_inputs():
    block = _seeded(ResBlock(64, 128, 96))
    x, emb = torch.randn(2, 64, 6, 5), torch.randn(2, 128)
    kept = x.clone(), emb.clone()
    with torch.inference_mode():
        got = block(x, emb)
        h = _norm_silu_conv(block.in_layers[0], block.in_layers[2], x)
        h = h + block.emb_layers[1](F.silu(emb))[:, :, None, None]
        expected = block.skip_connection(x) + _norm_silu_conv(block.out_layers[0], block.out_layers[3], h)
    assert torch.equal(got, expected)
    assert torch.equal(x, kept[0]) and torch.equal(emb, kept[1])


def test_vae_resnet_block_equals_the_out_of_place_composition_and_keeps_its_input():
    for width_change in (False, True):
        block = _seeded(ResnetBlock(64, 96 if width_change else 64))
        x = torch.randn(1, 64, 7, 6)
        kept = x.clone()
        with torch.inference_mode():
            got = block(x)
            h = _norm_silu_conv(block.norm2, block.conv2, _norm_silu_conv(block.norm1, block.conv1, x))
            expected = (block.nin_shortcut(x) if width_change else x) + h
        assert torch.equal(got, expected)
        assert torch.equal(x, kept)


def test_unet_forward_leaves_the_callers_tensors_alone_and_repeats_exactly():
    unet = _seeded(UNetModel(TINY_UNETS["sd15"]))
    x, context = torch.randn(2, 4, 8, 8), torch.randn(2, 7, TINY_UNETS["sd15"].context_dim)
    kept = x.clone(), context.clone()
    with torch.inference_mode():
        first = unet(x, torch.tensor([10.0, 500.0]), context)
        second = unet(x, torch.tensor([10.0, 500.0]), context)
    assert torch.equal(x, kept[0]) and torch.equal(context, kept[1])
    assert torch.equal(first, second)
