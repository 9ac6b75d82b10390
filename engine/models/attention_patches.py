"""ComfyUI's attention patch points inside a UNet transformer block, so node packs that patch attention
(through MODEL.set_model_attn1_patch and friends) change Loom's results exactly as they change ComfyUI's.

The UNet's per-call `transformer_options` carries "patches" (lists per patch point) and "patches_replace"
({"attn1"|"attn2": {(block name, block id[, index in the transformer]): fn}}); everything else in it
(block, block_index, original_shape, cond_or_uncond, sigmas, ...) is handed to the patches as
`extra_options`, with the block's "n_heads", "dim_head" and "attn_precision".
"""

from __future__ import annotations

import torch
from torch import nn

ROUTING_KEYS = ("patches", "patches_replace")


def block_options(transformer_options: dict | None, index: int) -> dict | None:
    """The options for the index-th block of a spatial transformer (ComfyUI's "block_index")."""
    if transformer_options is not None:
        transformer_options["block_index"] = index
    return transformer_options


def extra_options(block: nn.Module, transformer_options: dict) -> dict:
    """What attention patches receive: the call's options without the patch tables, plus head sizes."""
    extra = {k: v for k, v in transformer_options.items() if k not in ROUTING_KEYS}
    extra.update(n_heads=block.attn1.heads, dim_head=block.attn1.to_q.out_features // block.attn1.heads,
                 attn_precision=None)
    return extra


def _replacement(transformer_options: dict, name: str):
    """The replace function registered for this block: by (name, id, index), else by (name, id)."""
    table = transformer_options.get("patches_replace", {}).get(name, {})
    block = transformer_options.get("block")
    if block is None or not table:
        return None
    return table.get((block[0], block[1], transformer_options.get("block_index", 0)), table.get(block))


def _attend(attn: nn.Module, n: torch.Tensor, context, value, replace, extra: dict) -> torch.Tensor:
    if replace is None:
        return attn(n, context, value)
    context = n if context is None else context
    value = context if value is None else value
    return attn.to_out(replace(attn.to_q(n), attn.to_k(context), attn.to_v(value), extra))


def _attention_step(attn: nn.Module, n: torch.Tensor, context, name: str, patches: dict,
                    transformer_options: dict, extra: dict) -> torch.Tensor:
    """One attention with its q/k/v patches, replacement and output patches, as ComfyUI orders them."""
    value = None
    if f"{name}_patch" in patches:
        context = n if context is None else context
        value = context
        for patch in patches[f"{name}_patch"]:
            n, context, value = patch(n, context, value, extra)
    n = _attend(attn, n, context, value, _replacement(transformer_options, name), extra)
    for patch in patches.get(f"{name}_output_patch", ()):
        n = patch(n, extra)
    return n


def patched_block_forward(block: nn.Module, x: torch.Tensor, context: torch.Tensor | None,
                          transformer_options: dict) -> torch.Tensor:
    """BasicTransformerBlock.forward with every ComfyUI attention patch point honoured."""
    patches = transformer_options.get("patches", {})
    extra = extra_options(block, transformer_options)
    x = x + _attention_step(block.attn1, block.norm1(x), None, "attn1", patches, transformer_options, extra)
    for patch in patches.get("middle_patch", ()):
        x = patch(x, extra)
    x = x + _attention_step(block.attn2, block.norm2(x), context, "attn2", patches, transformer_options, extra)
    return x + block.ff(block.norm3(x))
