"""ControlNet variants: SetUnionControlNetType picks which control a "union" ControlNet (one net, many control
types) applies; ControlNetInpaintingAliMamaApply applies an inpainting ControlNet.

ComfyUI passes the type to the net as an extra argument that ordinary ControlNets ignore; Loom's ControlNet
loader does not load union nets, so for every CONTROL_NET it can hold the node passes the net through.
"""

from typing import Annotated, Literal

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from nodes.controlnet import attach_control

UNION_TYPES = ("auto", "openpose", "depth", "hed/pidi/scribble/ted", "canny/lineart/anime_lineart/mlsd", "normal",
               "segment", "tile", "repaint")


@node(category="conditioning/controlnet", display_name="SetUnionControlNetType", outputs=[Out("CONTROL_NET")])
class SetUnionControlNetType(Node):
    """Choose a union ControlNet's control type; other ControlNets pass through unchanged."""

    control_net: Annotated[object, Socket("CONTROL_NET")]
    type: Literal[UNION_TYPES]

    def run(self, ctx):
        return (self.control_net,)


@node(category="conditioning/controlnet", display_name="ControlNetInpaintingAliMamaApply",
      outputs=[Out("CONDITIONING", "positive"), Out("CONDITIONING", "negative")])
class ControlNetInpaintingAliMamaApply(Node):
    """Apply an inpainting ControlNet. AliMama's nets (SD3/Flux) also take the mask; the ControlNets Loom
    loads do not, so as in ComfyUI the image steers them as ControlNetApplyAdvanced would."""

    positive: Annotated[object, Socket("CONDITIONING")]
    negative: Annotated[object, Socket("CONDITIONING")]
    control_net: Annotated[object, Socket("CONTROL_NET")]
    vae: Annotated[object, Socket("VAE")]
    image: Annotated[object, Socket("IMAGE")]
    mask: Annotated[object, Socket("MASK")]
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=0.0, le=10.0)
    start_percent: Annotated[float, Widget(step=0.001)] = Field(0.0, ge=0.0, le=1.0)
    end_percent: Annotated[float, Widget(step=0.001)] = Field(1.0, ge=0.0, le=1.0)

    def run(self, ctx):
        return attach_control("ControlNetInpaintingAliMamaApply", self.control_net, self.image, self.strength,
                              self.start_percent, self.end_percent, [self.positive, self.negative])
