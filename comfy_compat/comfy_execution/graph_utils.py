"""ComfyUI's `comfy_execution.graph_utils`: node expansion is Loom's engine.graph.expansion.GraphBuilder."""

from __future__ import annotations

from typing import Any

from engine.graph.expansion import GraphBuilder, NodeHandle
from engine.graph.types import is_link as engine_is_link

Node = NodeHandle

__all__ = ["GraphBuilder", "Node", "is_link"]


def is_link(obj: Any) -> bool:
    """Whether an input value is a link `[node_id, output_index]` rather than a literal (the engine's test)."""
    return engine_is_link(obj)
