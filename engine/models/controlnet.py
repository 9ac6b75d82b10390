"""ControlNet (cldm layout): a trainable copy of the UNet's encoder half that turns a hint image into
residuals for the UNet's skip connections and middle block.

Reads the three layouts real files use: bare cldm keys, the same under `control_model.` (lllyasviel's
.pth releases, possibly next to a whole SD checkpoint), and diffusers' `ControlNetModel`, converted to
cldm names. Sizes are inferred from shapes, so SD1.x, SD2.x and SDXL ControlNets take one path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import nn

from engine.models.detect import UnsupportedCheckpoint, infer_unet_config
from engine.models.diffusers_names import block_map, diffusers_to_ldm
from engine.models.unet import UNetConfig, UNetEncoder

CLDM_PREFIX = "control_model."
CLDM_MARK = "zero_convs.0.0.weight"
DIFFUSERS_MARK = "controlnet_cond_embedding.conv_in.weight"
HINT_STRIDES = 3  # the hint encoder halves the resolution three times: pixels -> latent (x8)


@dataclass(frozen=True)
class ControlNetConfig:
    """The encoder half's sizes plus the hint encoder's: input channels and the widths of its four stages."""

    unet: UNetConfig
    hint_channels: int = 3
    hint_widths: tuple[int, ...] = (16, 32, 96, 256)


class ControlNetModel(UNetEncoder):
    """forward(x, hint, timesteps, context, y=None) -> {"middle": [r], "output": [r per input block]}.

    "output" is in input-block order, as engine.models.unet.UNetModel consumes it.
    """

    def __init__(self, config: ControlNetConfig):
        super().__init__(config.unet)
        widths, mc = config.hint_widths, config.unet.model_channels
        layers: list[nn.Module] = [nn.Conv2d(config.hint_channels, widths[0], 3, padding=1), nn.SiLU()]
        for width, wider in pairwise(widths):
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU(),
                       nn.Conv2d(width, wider, 3, padding=1, stride=2), nn.SiLU()]
        layers.append(nn.Conv2d(widths[-1], mc, 3, padding=1))
        self.input_hint_block = nn.Sequential(*layers)
        self.zero_convs = nn.ModuleList(nn.Sequential(nn.Conv2d(ch, ch, 1)) for ch in self.skip_channels)
        middle = self.skip_channels[-1]
        self.middle_block_out = nn.Sequential(nn.Conv2d(middle, middle, 1))

    def forward(self, x: torch.Tensor, hint: torch.Tensor, timesteps: torch.Tensor,
                context: torch.Tensor | None = None, y: torch.Tensor | None = None) -> dict[str, list]:
        emb = self.embed(timesteps, y)
        guided = self.input_hint_block(hint)
        h, outs = x, []
        for i, (block, zero_conv) in enumerate(zip(self.input_blocks, self.zero_convs)):
            h = block(h, emb, context, {})
            if i == 0:
                h = h + guided
            outs.append(zero_conv(h))
        h = self.middle_block(h, emb, context, {})
        return {"middle": [self.middle_block_out(h)], "output": outs}


class RenamedView(Mapping):
    """Tensors of a state dict under new names (new -> old), read on access."""

    def __init__(self, source: Mapping[str, torch.Tensor], names: dict[str, str]):
        self.source, self.names = source, names

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.source[self.names[key]]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = tensor_shapes(self.source)
        return {new: shapes[old] for new, old in self.names.items()}


def tensor_shapes(source: Mapping[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    """Shapes of a state dict's tensors, without reading their data where the source can list them."""
    if hasattr(source, "shapes"):
        return source.shapes()
    return {k: tuple(v.shape) for k, v in source.items()}


def _hint_path(path: str) -> str | None:
    """diffusers ControlNetConditioningEmbedding / output convs -> cldm names (None for UNet paths)."""
    parts = path.split(".")
    if path.startswith("controlnet_cond_embedding.conv_in."):
        return "input_hint_block.0." + parts[-1]
    if path.startswith("controlnet_cond_embedding.blocks."):
        return f"input_hint_block.{2 * (int(parts[2]) + 1)}.{parts[-1]}"
    if path.startswith("controlnet_down_blocks."):
        return f"zero_convs.{parts[1]}.0.{parts[-1]}"
    if path.startswith("controlnet_mid_block."):
        return "middle_block_out.0." + parts[-1]
    return None


def _diffusers_names(shapes: Mapping[str, tuple]) -> dict[str, str]:
    """cldm name -> diffusers name for every tensor of a diffusers ControlNetModel state dict."""
    names = {}
    hint_convs = 1 + sum(1 for k in shapes if k.startswith("controlnet_cond_embedding.blocks.") and
                         k.endswith(".weight"))
    for key in shapes:
        if key.startswith("controlnet_cond_embedding.conv_out."):
            names[f"input_hint_block.{2 * hint_convs}.{key.split('.')[-1]}"] = key
        elif (hint := _hint_path(key)) is not None:
            names[hint] = key
    blocks = block_map(_diffusers_layout(shapes), encoder_only=True)
    for key in shapes:
        if not key.startswith("controlnet_") and (ldm := diffusers_to_ldm(key, blocks)) is not None:
            names[ldm] = key
    unmapped = [k for k in shapes if k not in names.values()]
    if unmapped:
        raise UnsupportedCheckpoint(f"diffusers ControlNet keys with no cldm equivalent: {unmapped[:5]}")
    return names


def _diffusers_layout(shapes: Mapping[str, tuple]) -> UNetConfig:
    """A config with the encoder's block layout read from diffusers names (levels, blocks per level,
    attention depths), enough for `block_map`; the real sizes are inferred later from cldm names."""
    levels = 1 + max(int(k.split(".")[1]) for k in shapes if k.startswith("down_blocks."))
    counts = [len({k.split(".")[3] for k in shapes if k.startswith(f"down_blocks.{lv}.resnets.")})
              for lv in range(levels)]

    def depth(prefix: str) -> int:
        return len({k.split(".")[len(prefix.split("."))] for k in shapes if k.startswith(prefix + ".transformer_blocks.")})

    return UNetConfig(
        in_channels=4, out_channels=4, model_channels=1, channel_mult=(1,) * levels, num_res_blocks=tuple(counts),
        transformer_depth=tuple(depth(f"down_blocks.{lv}.attentions.{j}") for lv in range(levels)
                                for j in range(counts[lv])),
        transformer_depth_middle=depth("mid_block.attentions.0"),
        transformer_depth_output=(0,) * sum(c + 1 for c in counts), context_dim=None, num_heads=1)


def controlnet_weights(source: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """The ControlNet's tensors under cldm names, from any of the three layouts (lazy where `source` is)."""
    shapes = tensor_shapes(source)
    if CLDM_PREFIX + CLDM_MARK in shapes:
        return RenamedView(source, {k[len(CLDM_PREFIX):]: k for k in shapes if k.startswith(CLDM_PREFIX)})
    if CLDM_MARK in shapes:
        return source
    if DIFFUSERS_MARK in shapes:
        return RenamedView(source, _diffusers_names(shapes))
    raise UnsupportedCheckpoint(
        f"not a ControlNet: none of {CLDM_PREFIX + CLDM_MARK}, {CLDM_MARK} or {DIFFUSERS_MARK} is present"
        " (T2I-Adapter and Control-LoRA files are not supported)")


def infer_controlnet_config(weights: Mapping[str, torch.Tensor]) -> ControlNetConfig:
    """ControlNetConfig from cldm-named shapes."""
    shapes = tensor_shapes(weights)
    hint = sorted((int(k.split(".")[1]), shape) for k, shape in shapes.items()
                  if k.startswith("input_hint_block.") and k.endswith(".weight"))
    if len(hint) != 2 * HINT_STRIDES + 2:
        raise UnsupportedCheckpoint(f"ControlNet hint encoder has {len(hint)} convolutions, expected "
                                    f"{2 * HINT_STRIDES + 2}")
    widths = tuple(shape[0] for index, shape in hint[:-1] if index % 4 == 0)
    return ControlNetConfig(infer_unet_config(shapes, encoder_only=True), hint[0][1][1], widths)


def describe_family(config: UNetConfig) -> str:
    """A reader's name for the model family a UNet (or ControlNet) config belongs to."""
    if config.adm_in_channels:
        kind = "SDXL" if config.context_dim == 2048 else "SDXL-refiner" if config.context_dim == 1280 \
            else "SDXL-class"
    else:
        kind = {768: "SD1.x", 1024: "SD2.x"}.get(config.context_dim, "SD-class")
    return f"{kind} (context {config.context_dim}, {config.model_channels} channels)"


def check_compatible(control: UNetConfig, base: UNetConfig) -> None:
    """Raise ValueError naming both families when a ControlNet does not fit the base UNet."""
    fields = ("model_channels", "channel_mult", "num_res_blocks", "context_dim", "adm_in_channels",
              "use_linear_in_transformer")
    different = [f for f in fields if getattr(control, f) != getattr(base, f)]
    if different:
        raise ValueError(f"this ControlNet is for {describe_family(control)} but the model is "
                         f"{describe_family(base)} (different {', '.join(different)})")
