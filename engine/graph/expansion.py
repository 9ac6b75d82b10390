"""GraphBuilder: how a node builds the subgraph it expands into, with deterministic node ids.

Inside a running node, ids are prefixed "{node_id}.{call_index}.{builder_index}." so re-running the same
workflow creates the same ids (and hits the cache).
"""

from __future__ import annotations

from typing import Any

from engine.graph import context


class NodeHandle:
    """A node being built; `.out(i)` is a link to its output i.

    `override_display_id` names the node the UI shows as running while this one runs (a loop body's
    copies show as the original nodes); None shows the expanding node.
    """

    def __init__(self, node_id: str, class_type: str, inputs: dict[str, Any]):
        self.id, self.class_type, self.inputs = node_id, class_type, inputs
        self.override_display_id: str | None = None

    def out(self, index: int) -> list:
        return [self.id, index]

    def set_input(self, name: str, value: Any) -> None:
        """Set an input to a literal or link; None removes it (an optional input left unconnected)."""
        if isinstance(value, NodeHandle):
            value = value.out(0)
        if value is None:
            self.inputs.pop(name, None)
        else:
            self.inputs[name] = value

    def get_input(self, name: str) -> Any:
        return self.inputs.get(name)

    def set_override_display_id(self, display_id: str | None) -> None:
        self.override_display_id = display_id

    def serialize(self) -> dict[str, Any]:
        """This node in API format, with its display override when set."""
        info: dict[str, Any] = {"class_type": self.class_type, "inputs": dict(self.inputs)}
        if self.override_display_id is not None:
            info["override_display_id"] = self.override_display_id
        return info


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
        # a None given here stays a literal None (unlike set_input(name, None), which removes the input)
        handle = NodeHandle(node_id, class_type,
                            {k: v.out(0) if isinstance(v, NodeHandle) else v for k, v in inputs.items()})
        self._nodes[node_id] = handle
        return handle

    def lookup_node(self, id: str) -> NodeHandle | None:
        return self._nodes.get(self.prefix + id)

    def remove_node(self, id: str) -> None:
        self._nodes.pop(self.prefix + id, None)

    def finalize(self) -> dict[str, dict]:
        """The subgraph in API format."""
        return {node_id: handle.serialize() for node_id, handle in self._nodes.items()}
