"""GraphBuilder: how a node builds the subgraph it expands into, with deterministic node ids.

Inside a running node, ids are prefixed "{node_id}.{call_index}.{builder_index}." so re-running the same
workflow creates the same ids (and hits the cache).
"""

from __future__ import annotations

from typing import Any

from engine.graph import context


class NodeHandle:
    """A node being built; `.out(i)` is a link to its output i."""

    def __init__(self, node_id: str, class_type: str, inputs: dict[str, Any]):
        self.id, self.class_type, self.inputs = node_id, class_type, inputs

    def out(self, index: int) -> list:
        return [self.id, index]

    def set_input(self, name: str, value: Any) -> None:
        if isinstance(value, NodeHandle):
            value = value.out(0)
        self.inputs[name] = value


class GraphBuilder:
    """Collects nodes for an expansion result: `{"result": (...links...), "expand": builder.finalize()}`."""

    def __init__(self, prefix: str | None = None):
        if prefix is None:
            ctx = context.current()
            prefix = f"{ctx.node_id}.{ctx.call_index}.{ctx.next_builder_index()}." if ctx is not None else ""
        self.prefix = prefix
        self._nodes: dict[str, NodeHandle] = {}
        self._counter = 0

    def node(self, class_type: str, id: str | None = None, **inputs: Any) -> NodeHandle:
        if id is None:
            id = str(self._counter)
            self._counter += 1
        node_id = self.prefix + id
        if node_id in self._nodes:
            return self._nodes[node_id]
        handle = NodeHandle(node_id, class_type, {})
        for name, value in inputs.items():
            handle.set_input(name, value)
        self._nodes[node_id] = handle
        return handle

    def lookup_node(self, id: str) -> NodeHandle | None:
        return self._nodes.get(self.prefix + id)

    def remove_node(self, id: str) -> None:
        self._nodes.pop(self.prefix + id, None)

    def finalize(self) -> dict[str, dict]:
        """The subgraph in API format."""
        return {i: {"class_type": h.class_type, "inputs": dict(h.inputs)} for i, h in self._nodes.items()}
