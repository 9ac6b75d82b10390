"""T2I-Adapter (TencentARC, "full" adapters for SD1.x/SD2.x): a small encoder from a hint image to one
feature map per UNet level, added to the UNet's encoder after the last ResBlock of each level.

Keys follow the original release (`conv_in`, `body.<k>.block1/block2/in_conv[/down_opt.op]`); diffusers'
`T2IAdapter` files (`adapter.body.<level>.resnets.<j>...`) are renamed to them. Timestep-independent: the
features depend only on the hint.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from engine.models.controlnet import RenamedView, describe_family, tensor_shapes
from engine.models.detect import UnsupportedCheckpoint
from engine.models.unet import UNetConfig

UNSHUFFLE = 8  # hint pixels per feature pixel at the first level (SD1.x/SD2.x adapters)
_DIFFUSERS_BLOCK = re.compile(r"^adapter\.body\.(\d+)\.resnets\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class T2IAdapterConfig:
    """Input channels after pixel-unshuffle, width per level, ResBlocks per level, block2 kernel size and
    whether downsampling is a strided conv (else 2x2 average pooling)."""

    in_channels: int
    channels: tuple[int, ...]
    blocks_per_level: int
    kernel: int = 1
    conv_down: bool = False

    @property
    def hint_channels(self) -> int:
        return self.in_channels // UNSHUFFLE**2


class _AdapterBlock(nn.Module):
    def __init__(self, channels_in: int, channels: int, kernel: int, down: bool, conv_down: bool):
        super().__init__()
        self.down = down
        if down and conv_down:
            self.down_opt = nn.Module()
            self.down_opt.op = nn.Conv2d(channels_in, channels_in, 3, stride=2, padding=1)
        self.in_conv = nn.Conv2d(channels_in, channels, kernel, padding=kernel // 2) if channels_in != channels \
            else None
        self.block1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.block2 = nn.Conv2d(channels, channels, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.down:
            x = self.down_opt.op(x) if hasattr(self, "down_opt") else F.avg_pool2d(x, 2, ceil_mode=True)
        if self.in_conv is not None:
            x = self.in_conv(x)
        return x + self.block2(F.relu(self.block1(x)))


class T2IAdapter(nn.Module):
    """forward(hint [B, C, H, W] in 0..1) -> one feature map per level (H/8, H/16, ...)."""

    def __init__(self, config: T2IAdapterConfig):
        super().__init__()
        self.config = config
        self.conv_in = nn.Conv2d(config.in_channels, config.channels[0], 3, padding=1)
        blocks, previous = [], config.channels[0]
        for level, width in enumerate(config.channels):
            for j in range(config.blocks_per_level):
                blocks.append(_AdapterBlock(previous, width, config.kernel, level > 0 and j == 0, config.conv_down))
                previous = width
        self.body = nn.ModuleList(blocks)

    def forward(self, hint: torch.Tensor) -> list[torch.Tensor]:
        if hint.shape[1] != self.config.hint_channels:
            hint = hint.mean(dim=1, keepdim=True).expand(-1, self.config.hint_channels, -1, -1)
        x = self.conv_in(F.pixel_unshuffle(hint, UNSHUFFLE))
        features = []
        for index, block in enumerate(self.body):
            x = block(x)
            if (index + 1) % self.config.blocks_per_level == 0:
                features.append(x)
        return features


def is_t2i_adapter(shapes: Mapping[str, tuple]) -> bool:
    return "adapter.conv_in.weight" in shapes or ("conv_in.weight" in shapes and "body.0.block1.weight" in shapes)


def adapter_weights(source: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """The adapter's tensors under original-layout names (lazy where `source` is)."""
    return RenamedView(source, adapter_names(tensor_shapes(source)))


def adapter_names(shapes: Mapping[str, tuple]) -> dict[str, str]:
    """Original-layout name -> file name, for either layout."""
    if "adapter.conv_in.weight" not in shapes:
        return {k: k for k in shapes}
    per_level = 1 + max(int(m.group(2)) for k in shapes if (m := _DIFFUSERS_BLOCK.match(k)))
    names = {}
    for key in shapes:
        if (m := _DIFFUSERS_BLOCK.match(key)) is not None:
            names[f"body.{int(m.group(1)) * per_level + int(m.group(2))}.{m.group(3)}"] = key
        elif (m := re.match(r"^adapter\.body\.(\d+)\.in_conv\.(.+)$", key)) is not None:
            names[f"body.{int(m.group(1)) * per_level}.in_conv.{m.group(2)}"] = key
        else:
            names[key.removeprefix("adapter.")] = key
    return names


def infer_adapter_config(shapes: Mapping[str, tuple]) -> T2IAdapterConfig:
    """Sizes from original-layout shapes. A level starts where a block changes width or downsamples."""
    in_channels = shapes["conv_in.weight"][1]
    if in_channels % UNSHUFFLE**2:
        raise UnsupportedCheckpoint(f"T2I-Adapter with {in_channels} input channels (SDXL or light/style "
                                    "adapters) is not supported; SD1.x/SD2.x full adapters are")
    blocks = 1 + max(int(k.split(".")[1]) for k in shapes if k.startswith("body."))
    starts = [k for k in range(1, blocks) if f"body.{k}.in_conv.weight" in shapes
              or f"body.{k}.down_opt.op.weight" in shapes]
    per_level = starts[0] if starts else blocks
    widths = tuple(shapes[f"body.{k}.block1.weight"][0] for k in range(0, blocks, per_level))
    return T2IAdapterConfig(in_channels, widths, per_level, shapes["body.0.block2.weight"][-1],
                            any(k.endswith("down_opt.op.weight") for k in shapes))


def check_adapter_fits(config: T2IAdapterConfig, base: UNetConfig) -> None:
    """Raise ValueError when the adapter's levels or widths differ from the base UNet's."""
    widths = tuple(base.model_channels * mult for mult in base.channel_mult)
    if config.channels != widths:
        raise ValueError(f"this T2I-Adapter has level widths {config.channels} but the model is "
                         f"{describe_family(base)} with widths {widths}")


def input_residuals(features: list[torch.Tensor], base: UNetConfig) -> list[torch.Tensor | None]:
    """One entry per UNet input block, in the order the UNet consumes them (last block first): each
    level's feature after its last ResBlock, None elsewhere."""
    per_block: list[torch.Tensor | None] = [None]
    for level, count in enumerate(base.num_res_blocks):
        per_block += [None] * (count - 1) + [features[level]]
        if level != len(base.num_res_blocks) - 1:
            per_block.append(None)
    return per_block[::-1]
