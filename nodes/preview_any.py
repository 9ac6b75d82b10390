"""PreviewAny: show any value on the canvas as text (strings as they are, numbers and booleans with str,
everything else as JSON when it can be), like ComfyUI's node of the same name."""

import json
from typing import Annotated

from engine.graph.native import Node, NodeOutput, Socket, node


def preview_text(value: object) -> str:
    """The text ComfyUI shows for `value`."""
    if value is None:
        return "None"
    if isinstance(value, (str, int, float, bool)):
        return value if isinstance(value, str) else str(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        try:
            return str(value)
        except Exception:  # noqa: BLE001 - any failure of a foreign __str__ still previews something
            return "source exists, but could not be serialized."


@node(category="utils", display_name="Preview Any", outputs=[], output_node=True)
class PreviewAny(Node):
    """Show the connected value as text."""

    source: Annotated[object, Socket("*")]

    def run(self, ctx):
        return NodeOutput(result=(), ui={"text": (preview_text(self.source),)})
