"""The few graph walks a prompt needs (topological order, ancestors, descendants) over plain dicts.

Validation runs them on every queued prompt, twice through the server; a general graph library's
per-node bookkeeping cost more than the rest of validating a 1,000-node prompt. Cycles are only
reported on failure, by validation with networkx.
"""

from __future__ import annotations

from collections.abc import Iterable


class Dag:
    """Nodes and links (source -> reader) of a prompt; a link may name a node not listed, which is added."""

    def __init__(self, nodes: Iterable[str] = (), edges: Iterable[tuple[str, str]] = ()):
        successors: dict[str, list[str]] = {node: [] for node in nodes}
        predecessors: dict[str, list[str]] = {node: [] for node in successors}
        for source, reader in edges:  # add_edge, inlined: validation builds one Dag per prompt
            if source not in successors:
                successors[source], predecessors[source] = [], []
            if reader not in successors:
                successors[reader], predecessors[reader] = [], []
            successors[source].append(reader)
            predecessors[reader].append(source)
        self.successors, self.predecessors = successors, predecessors

    def add_node(self, node: str) -> None:
        if node not in self.successors:
            self.successors[node] = []
            self.predecessors[node] = []

    def add_edge(self, source: str, reader: str) -> None:
        self.add_node(source)
        self.add_node(reader)
        self.successors[source].append(reader)
        self.predecessors[reader].append(source)

    def __contains__(self, node: str) -> bool:
        return node in self.successors

    def topological_order(self) -> list[str] | None:
        """Every node after all its sources (Kahn's algorithm), or None when the links form a cycle."""
        missing = {node: len(sources) for node, sources in self.predecessors.items()}
        ready = [node for node, count in missing.items() if count == 0]
        order: list[str] = []
        while ready:
            node = ready.pop()
            order.append(node)
            for reader in self.successors[node]:
                missing[reader] -= 1
                if missing[reader] == 0:
                    ready.append(reader)
        return order if len(order) == len(missing) else None

    def ancestors(self, nodes: Iterable[str]) -> set[str]:
        """`nodes` and everything they read from, directly or not."""
        return _reach(self.predecessors, nodes)

    def descendants(self, nodes: Iterable[str]) -> set[str]:
        """`nodes` and everything that reads from them, directly or not."""
        return _reach(self.successors, nodes)


def _reach(neighbours: dict[str, list[str]], start: Iterable[str]) -> set[str]:
    seen = set(start)
    stack = list(seen)
    while stack:
        for neighbour in neighbours.get(stack.pop(), ()):
            if neighbour not in seen:
                seen.add(neighbour)
                stack.append(neighbour)
    return seen
