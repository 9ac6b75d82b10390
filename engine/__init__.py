"""Loom's engine: everything that is not a node, a route or a page (graph runtime, models, sampling, memory)."""
