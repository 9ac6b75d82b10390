"""SetUnionControlNetType: pick which control a "union" ControlNet (one net, many control types) applies.

ComfyUI passes the type to the net as an extra argument that ordinary ControlNets ignore; Loom's ControlNet
loader does not load union nets, so for every CONTROL_NET it can hold the node passes the net through.
"""

from typing import Annotated, Literal

from engine.graph.native import Node, Out, Socket, node

UNION_TYPES = ("auto", "openpose", "depth", "hed/pidi/scribble/ted", "canny/lineart/anime_lineart/mlsd", "normal",
               "segment", "tile", "repaint")


@node(category="conditioning/controlnet", display_name="SetUnionControlNetType", outputs=[Out("CONTROL_NET")])
class SetUnionControlNetType(Node):
    """Choose a union ControlNet's control type; other ControlNets pass through unchanged."""

    control_net: Annotated[object, Socket("CONTROL_NET")]
    type: Literal[UNION_TYPES]

    def run(self, ctx):
        return (self.control_net,)
