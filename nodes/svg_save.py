"""SaveSVGNode: write SVG values (ComfyUI's SVG type: a list of in-memory SVG documents) to the output
folder, with the prompt and workflow embedded as a <metadata> element after the opening <svg> tag."""

import json
import re
from io import BytesIO
from typing import Annotated

from engine.graph.native import Node, NodeOutput, Socket, node
from nodes.video_save import output_file


class SVG:
    """SVG documents as bytes buffers (what SVG-producing nodes pass along)."""

    def __init__(self, data: list[BytesIO]):
        self.data = data

    def combine(self, other: "SVG") -> "SVG":
        return SVG(self.data + other.data)


def with_metadata(svg: str, metadata: dict) -> str:
    """The document with a CDATA <metadata> block holding `metadata` as JSON."""
    block = f"  <metadata>\n    <![CDATA[\n{json.dumps(metadata, indent=2)}\n    ]]>\n  </metadata>\n"
    return re.sub(r"(<svg[^>]*>)", lambda match: match.group(1) + "\n" + block, svg, flags=re.UNICODE)


@node(category="image/save", display_name="SaveSVGNode", outputs=[], output_node=True)
class SaveSVGNode(Node):
    """Save each SVG document as `<prefix>_NNNNN_.svg`."""

    svg: Annotated[object, Socket("SVG")]
    filename_prefix: str = "svg/ComfyUI"

    def run(self, ctx):
        metadata = {**({"prompt": ctx.prompt} if ctx.prompt is not None else {}), **(ctx.extra_pnginfo or {})}
        saved = []
        for number, document in enumerate(self.svg.data):
            path, entry = output_file(ctx, self.filename_prefix.replace("%batch_num%", str(number)), "svg")
            document.seek(0)
            text = document.read().decode("utf-8")
            path.write_text(with_metadata(text, metadata) if metadata else text, encoding="utf-8")
            saved.append(entry)
        return NodeOutput(result=(), ui={"images": saved})
