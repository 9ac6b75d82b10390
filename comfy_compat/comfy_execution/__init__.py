"""ComfyUI's `comfy_execution` package, reduced to `graph_utils` (GraphBuilder) and `graph` (ExecutionBlocker)."""
