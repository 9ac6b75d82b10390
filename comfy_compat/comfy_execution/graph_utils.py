"""ComfyUI's `comfy_execution.graph_utils`: node expansion is Loom's engine.graph.expansion.GraphBuilder."""

from __future__ import annotations

from typing import Any

from engine.graph.expansion import GraphBuilder, NodeHandle

Node = NodeHandle

__all__ = ["GraphBuilder", "Node", "is_link"]


def is_link(obj: Any) -> bool:
    """Whether an input value is a link `[node_id, output_index]` rather than a literal."""
    return (isinstance(obj, (list, tuple)) and len(obj) == 2 and isinstance(obj[0], str)
            and isinstance(obj[1], int) and not isinstance(obj[1], bool))
