"""LotusConditioning (ComfyUI's conditioning/lotus node), interface only.

ComfyUI's node takes no input and returns a constant: Lotus's null prompt as its frozen SD2 OpenCLIP-H
text encoder encodes it, a [1, 2, 1024] tensor written into ComfyUI's source. Loom cannot derive it
without that text encoder and does not ship the numbers, so the node is registered with ComfyUI's exact
interface (saved workflows validate) and says at run time what is missing and what comes closest.
"""

from __future__ import annotations

from engine.graph.native import Node, Out, node


class LotusEmbeddingMissing(RuntimeError):
    """Raised when a workflow runs LotusConditioning."""


@node(category="conditioning/lotus", outputs=[Out("CONDITIONING", "conditioning")])
class LotusConditioning(Node):
    """Lotus's fixed null-prompt conditioning (not available in Loom: see the error it raises)."""

    def run(self, ctx):
        raise LotusEmbeddingMissing(
            "LotusConditioning: Loom does not ship Lotus's null-prompt embedding (the [1, 2, 1024] output of "
            "Lotus's frozen SD2 OpenCLIP-H text encoder that ComfyUI hard-codes), and this node has no input "
            "to compute it from. The nearest substitute is CLIPTextEncode of an empty prompt through the SD2 "
            "CLIP of the Lotus checkpoint (77 padded tokens instead of 2, so results are close, not equal).")
