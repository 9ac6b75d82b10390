"""Style model nodes: load a T2I style adapter and append the style tokens it makes from a CLIP image
encoding to a conditioning (ComfyUI's StyleModelLoader / StyleModelApply)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import torch
from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.memory import ModelHandle, file_key, weight_dtype
from engine.models.checkpoint import open_checkpoint
from engine.models.detect import UnsupportedCheckpoint
from engine.models.style_adapter import StyleAdapter, infer_style_config
from nodes.model_files import file_version, folders_of, model_files, model_manager


@dataclass(frozen=True)
class StyleModel:
    """STYLE_MODEL: the managed style adapter."""

    handle: ModelHandle


@node(category="loaders", display_name="Load Style Model", outputs=[Out("STYLE_MODEL")])
class StyleModelLoader(Node):
    """Load a T2I style adapter (e.g. t2iadapter_style_sd14v1.pth) from models/style_models."""

    style_model_name: Annotated[str, model_files("style_models", "A file in models/style_models.")]

    def run(self, ctx):
        path = folders_of(ctx).find("style_models", self.style_model_name)
        shapes = open_checkpoint(path).shapes()
        if "style_embedding" not in shapes:
            kind = "a Flux Redux model" if "redux_down.weight" in shapes else "not a style model"
            raise UnsupportedCheckpoint(f"StyleModelLoader: style_model_name {self.style_model_name!r} is {kind}: "
                                        "only T2I style adapters (style_embedding, transformer_layes.*) load here")
        config = infer_style_config(shapes)
        handle = model_manager(ctx).handle(
            file_key(path, "style"), name=f"{path.name} (style)", kind="style_model",
            build=lambda: StyleAdapter(config), state_dict=lambda: open_checkpoint(path))
        return (StyleModel(handle),)

    @classmethod
    def is_changed(cls, style_model_name: str) -> str:
        return file_version("style_models", style_model_name)


def _with_attention_bias(options: dict, text_tokens: int, style_tokens: int, bias: float) -> dict:
    """ComfyUI's attention mask grown by the style tokens, which get `bias` (log strength); read by models
    with masked joint attention, not by the SD UNets."""
    ref_h, ref_w = options.get("attention_mask_img_shape", (1, 1))
    refs, n = ref_h * ref_w, style_tokens
    mask = options.get("attention_mask")
    if mask is None:
        mask = torch.zeros((1, text_tokens + refs, text_tokens + refs), dtype=torch.float16)
    if mask.dtype == torch.bool:
        mask = torch.log(mask.to(torch.float16))
    grown = torch.zeros((mask.shape[0], text_tokens + n + refs, text_tokens + n + refs), dtype=torch.float16)
    t = text_tokens
    grown[:, :t, :t], grown[:, :t, t + n:] = mask[:, :t, :t], mask[:, :t, t:]
    grown[:, t + n:, :t], grown[:, t + n:, t + n:] = mask[:, t:, :t], mask[:, t:, t:]
    grown[:, :t, t:t + n] = bias
    grown[:, t + n:, t:t + n] = bias
    return {**options, "attention_mask": grown, "attention_mask_img_shape": (ref_h, ref_w)}


@node(category="conditioning/style_model", display_name="Apply Style Model", outputs=[Out("CONDITIONING")])
class StyleModelApply(Node):
    """Append style tokens made from an image to each prompt: `multiply` scales them by strength,
    `attn_bias` leaves them and biases attention to them (for attention-mask aware models)."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    style_model: Annotated[object, Socket("STYLE_MODEL")]
    clip_vision_output: Annotated[object, Socket("CLIP_VISION_OUTPUT")]
    strength: Annotated[float, Widget(step=0.001)] = Field(1.0, ge=0.0, le=10.0)
    strength_type: Literal["multiply", "attn_bias"]

    def run(self, ctx):
        with model_manager(ctx).use(self.style_model.handle) as adapter:
            device, dtype = weight_dtype(adapter)
            with torch.inference_mode():
                tokens = adapter(self.clip_vision_output.last_hidden_state.to(device, dtype)).float().cpu()
        tokens = tokens.flatten(0, 1)[None]
        if self.strength_type == "multiply":
            tokens = tokens * self.strength
        out = []
        for text, options in self.conditioning:
            if "attention_mask" in options or (self.strength_type == "attn_bias" and self.strength != 1.0):
                bias = math.log(self.strength) if self.strength_type == "attn_bias" and self.strength > 0 else (
                    -math.inf if self.strength_type == "attn_bias" else 0.0)
                options = _with_attention_bias(options, text.shape[1], tokens.shape[1], bias)
            out.append([torch.cat((text, tokens.to(text.dtype)), dim=1), dict(options)])
        return (out,)
