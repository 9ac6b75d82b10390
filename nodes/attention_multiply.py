"""Attention-multiply nodes: scale the q/k/v/out projection weights of the UNet's self- or cross-attention,
of SVD's spatial vs temporal attention outputs, or of the text encoders' self-attention. Each scale is a
weight patch on the value's handle (applied when the model is placed, undone exactly), as ComfyUI does it.
"""

from typing import Annotated, ClassVar

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.weight_patches import Patch

Scale = Annotated[float, Widget(step=0.01)]
SCALE = Field(1.0, ge=0.0, le=10.0)


def _times(weight, factor):
    return weight * factor


def scaled(keys, factors: dict[str, float]) -> list[Patch]:
    """A patch multiplying each weight/bias whose key ends with "<suffix>.weight|bias" by factors[suffix]
    (factors of 1 add nothing)."""
    patches = []
    for key in keys:
        for suffix, factor in factors.items():
            if factor != 1.0 and key.endswith((f"{suffix}.weight", f"{suffix}.bias")):
                patches.append(Patch(key, _times, factor))
    return patches


class UNetAttentionMultiply(Node):
    """Scale the q/k/v/out projections of one of the UNet's attentions (`attn`: attn1 or attn2)."""

    attn: ClassVar[str] = ""
    model: Annotated[object, Socket("MODEL")]
    q: Scale = SCALE
    k: Scale = SCALE
    v: Scale = SCALE
    out: Scale = SCALE

    def run(self, ctx):
        factors = {f"{self.attn}.to_q": self.q, f"{self.attn}.to_k": self.k, f"{self.attn}.to_v": self.v,
                   f"{self.attn}.to_out.0": self.out}
        return (self.model.with_patches(scaled(self.model.handle.module_shapes(), factors)),)


@node(category="_for_testing/attention_experiments", outputs=[Out("MODEL")], experimental=True)
class UNetSelfAttentionMultiply(UNetAttentionMultiply):
    """Scale the UNet's self-attention (attn1) projections."""

    attn: ClassVar[str] = "attn1"


@node(category="_for_testing/attention_experiments", outputs=[Out("MODEL")], experimental=True)
class UNetCrossAttentionMultiply(UNetAttentionMultiply):
    """Scale the UNet's cross-attention (attn2) projections."""

    attn: ClassVar[str] = "attn2"


@node(category="_for_testing/attention_experiments", outputs=[Out("CLIP")], experimental=True)
class CLIPAttentionMultiply(Node):
    """Scale the text encoders' self-attention projections."""

    clip: Annotated[object, Socket("CLIP")]
    q: Scale = SCALE
    k: Scale = SCALE
    v: Scale = SCALE
    out: Scale = SCALE

    def run(self, ctx):
        factors = {"self_attn.q_proj": self.q, "self_attn.k_proj": self.k, "self_attn.v_proj": self.v,
                   "self_attn.out_proj": self.out}
        return (self.clip.with_patches(scaled(self.clip.handle.module_shapes(), factors)),)


@node(category="_for_testing/attention_experiments", outputs=[Out("MODEL")], experimental=True)
class UNetTemporalAttentionMultiply(Node):
    """Scale the attention outputs of a video UNet, spatial (structural) and temporal separately."""

    model: Annotated[object, Socket("MODEL")]
    self_structural: Scale = SCALE
    self_temporal: Scale = SCALE
    cross_structural: Scale = SCALE
    cross_temporal: Scale = SCALE

    def run(self, ctx):
        keys = list(self.model.handle.module_shapes())
        temporal = [k for k in keys if ".time_stack." in k]
        structural = [k for k in keys if ".time_stack." not in k]
        patches = (scaled(structural, {"attn1.to_out.0": self.self_structural, "attn2.to_out.0": self.cross_structural})
                   + scaled(temporal, {"attn1.to_out.0": self.self_temporal, "attn2.to_out.0": self.cross_temporal}))
        return (self.model.with_patches(patches),)
