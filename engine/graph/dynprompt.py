"""The prompt being executed plus the nodes created at run time by expansion (ephemeral nodes)."""

from __future__ import annotations

from typing import Any


class DuplicateNodeError(Exception):
    """An expansion created a node id that already exists."""


class DynamicPrompt:
    """Original API prompt + an overlay of ephemeral nodes, each knowing its parent and display node."""

    def __init__(self, original: dict[str, Any]):
        self.original = original
        self.ephemeral: dict[str, dict] = {}
        self._parents: dict[str, str] = {}
        self._display: dict[str, str] = {}

    def has_node(self, node_id: str) -> bool:
        return node_id in self.original or node_id in self.ephemeral

    def get_node(self, node_id: str) -> dict:
        if node_id in self.ephemeral:
            return self.ephemeral[node_id]
        return self.original[node_id]

    def add_ephemeral_node(self, node_id: str, node_info: dict, parent_id: str, display_id: str) -> None:
        if self.has_node(node_id):
            raise DuplicateNodeError(f"node id {node_id!r} created by expanding node {parent_id} already exists")
        self.ephemeral[node_id] = node_info
        self._parents[node_id] = parent_id
        self._display[node_id] = display_id

    def get_parent_node_id(self, node_id: str) -> str | None:
        return self._parents.get(node_id)

    def get_real_node_id(self, node_id: str) -> str:
        """The node of the original prompt this one descends from (itself for original nodes)."""
        while node_id in self._parents:
            node_id = self._parents[node_id]
        return node_id

    def get_display_node_id(self, node_id: str) -> str:
        """The node the UI shows for `node_id`: display links are followed (an override may name another
        ephemeral node) until an original node or a node displayed as itself."""
        if node_id not in self._display:  # every original node: no walk
            return node_id
        seen = {node_id}
        while (shown := self._display.get(node_id, node_id)) not in seen:
            seen.add(shown)
            node_id = shown
        return node_id

    def all_node_ids(self) -> set[str]:
        return set(self.original) | set(self.ephemeral)

    def get_original_prompt(self) -> dict:
        return self.original
