"""LoraSave ("Extract and Save Lora", ComfyUI's nodes_lora_extract): a model or text-encoder difference
(ModelMergeSubtract / CLIPMergeSubtract output) written as a LoRA file under output/, in ComfyUI's own key
naming (`diffusion_model.…`, `text_encoders.clip_l.transformer.…`) that LoraLoader reads back."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field

from engine.graph.native import Node, Socket, Widget, node
from engine.models.lora.extract import lora_tensors
from nodes.model_files import model_manager
from nodes.model_saving import write_model_file

_TOWER_KEY = re.compile(r"^towers\.(\w+)\.(.+)$")


def comfy_clip_key(key: str) -> str:
    """A CLIP tower weight key (`towers.l.text_model.…`) as ComfyUI's CLIP names it (`clip_l.transformer.…`)."""
    tower, rest = _TOWER_KEY.match(key).groups()
    if not rest.startswith(("text_model.", "text_projection")):
        rest = "text_model." + rest
    return f"clip_{tower}.transformer.{rest}"


@node(category="_for_testing", display_name="Extract and Save Lora", outputs=[], output_node=True)
class LoraSave(Node):
    """Save the difference a MODEL / CLIP holds as a LoRA: rank-r factors (standard) or the whole
    difference (full_diff); bias_diff also keeps biases and 1-D weights."""

    filename_prefix: Annotated[str, Widget(multiline=False)] = "loras/ComfyUI_extracted_lora"
    rank: Annotated[int, Widget(step=1)] = Field(8, ge=1, le=4096)
    lora_type: Literal["standard", "full_diff"]
    bias_diff: bool = True
    model_diff: Annotated[object, Socket("MODEL", tooltip="A model difference (from ModelSubtract) to store as a LoRA.")] = None
    text_encoder_diff: Annotated[object, Socket(
        "CLIP", tooltip="A text-encoder difference (from CLIPSubtract) to store as a LoRA.")] = None

    def run(self, ctx):
        if self.model_diff is None and self.text_encoder_diff is None:
            return ()
        manager, full = model_manager(ctx), self.lora_type == "full_diff"
        tensors = {}
        if self.model_diff is not None:
            with manager.use(self.model_diff.handle) as unet:
                tensors |= lora_tensors(unet.state_dict(), self.rank, "diffusion_model.", full, self.bias_diff)
        if self.text_encoder_diff is not None:
            with manager.use(self.text_encoder_diff.handle) as towers:
                weights = {comfy_clip_key(k): v for k, v in towers.state_dict().items()
                           if not k.endswith("position_ids")}
                tensors |= lora_tensors(weights, self.rank, "text_encoders.", full, self.bias_diff)
        write_model_file(ctx, "LoraSave", self.filename_prefix, tensors, {})
        return ()
