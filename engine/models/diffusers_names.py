"""Module paths of a diffusers `UNet2DConditionModel` / `ControlNetModel` and their LDM equivalents.

kohya's SD1.x LoRAs, PEFT LoRAs and diffusers-layout ControlNets name UNet modules the diffusers way
(`down_blocks.0.resnets.0.conv1`); Loom's UNet uses the LDM layout (`input_blocks.1.0.in_layers.2`).
The map is computed from a `UNetConfig`, so it holds for any size.
"""

from __future__ import annotations

from engine.models.unet import UNetConfig

# ResBlock parts: diffusers name -> LDM name.
RESNET_PARTS = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}
_TOP_LEVEL = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0",
    "add_embedding.linear_2": "label_emb.0.2",
}
_OUT = {"conv_norm_out": "out.0", "conv_out": "out.2"}


def block_map(config: UNetConfig, encoder_only: bool = False) -> dict[str, str]:
    """diffusers block path -> LDM block path, e.g. "down_blocks.1.attentions.0" -> "input_blocks.4.1".

    Resnet blocks map to the ResBlock (use RESNET_PARTS inside them); attention blocks keep inner names.
    """
    blocks = dict(_TOP_LEVEL)
    levels = len(config.channel_mult)
    depths = iter(config.transformer_depth)
    index = 1
    for level, count in enumerate(config.num_res_blocks):
        for j in range(count):
            blocks[f"down_blocks.{level}.resnets.{j}"] = f"input_blocks.{index}.0"
            if next(depths):
                blocks[f"down_blocks.{level}.attentions.{j}"] = f"input_blocks.{index}.1"
            index += 1
        if level != levels - 1:
            blocks[f"down_blocks.{level}.downsamplers.0.conv"] = f"input_blocks.{index}.0.op"
            index += 1
    blocks["mid_block.resnets.0"] = "middle_block.0"
    if config.transformer_depth_middle:
        blocks["mid_block.attentions.0"] = "middle_block.1"
    blocks["mid_block.resnets.1"] = f"middle_block.{2 if config.transformer_depth_middle else 1}"
    if encoder_only:
        return blocks
    depths = iter(config.transformer_depth_output)
    index = 0
    for up, level in enumerate(reversed(range(levels))):
        count = config.num_res_blocks[level] + 1
        for j in range(count):
            blocks[f"up_blocks.{up}.resnets.{j}"] = f"output_blocks.{index}.0"
            attention = bool(next(depths))
            if attention:
                blocks[f"up_blocks.{up}.attentions.{j}"] = f"output_blocks.{index}.1"
            if level and j == count - 1:
                blocks[f"up_blocks.{up}.upsamplers.0.conv"] = f"output_blocks.{index}.{2 if attention else 1}.conv"
            index += 1
    return blocks | _OUT


def _rename(path: str, blocks: dict[str, str], parts: dict[str, str]) -> str | None:
    """Rename `path` by its longest block prefix, then its first part by `parts` (only ResBlock parts
    match: attention and sampler blocks keep their inner names); None if no block covers it."""
    for prefix in sorted(blocks, key=len, reverse=True):
        if path == prefix or path.startswith(prefix + "."):
            rest = path[len(prefix) + 1:]
            for old, new in parts.items():
                if rest == old or rest.startswith(old + "."):
                    rest = new + rest[len(old):]
                    break
            return blocks[prefix] + ("." + rest if rest else "")
    return None


def diffusers_to_ldm(path: str, blocks: dict[str, str]) -> str | None:
    """A diffusers module or tensor path in LDM naming (None if `blocks` does not cover it)."""
    return _rename(path, blocks, RESNET_PARTS)


def ldm_to_diffusers(path: str, blocks: dict[str, str]) -> str | None:
    """An LDM module or tensor path in diffusers naming (None if `blocks` does not cover it)."""
    inverse = {ldm: diffusers for diffusers, ldm in blocks.items()}
    return _rename(path, inverse, {ldm: diffusers for diffusers, ldm in RESNET_PARTS.items()})
