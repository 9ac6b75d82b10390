"""ComfyUI's `comfy_execution.graph`, reduced to ExecutionBlocker (Loom's engine.graph.blocker)."""

from engine.graph.blocker import ExecutionBlocker

__all__ = ["ExecutionBlocker"]
