"""The prompt being executed as parsed nodes (original and ephemeral) with their cache signatures."""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

from engine.graph.calling import key_part, signature
from engine.graph.context import ExecutionContext, _reset_current, _set_current
from engine.graph.dag import Dag
from engine.graph.dynprompt import DynamicPrompt
from engine.graph.types import is_link, unwrap_literal
from engine.graph.validation import ParsedNode

log = logging.getLogger(__name__)

ContextFactory = Callable[[str, int], ExecutionContext]


class DependencyCycleError(Exception):
    """Nodes wait on each other (a cycle created at run time, e.g. by an expansion)."""


class PromptGraph:
    """Parsed nodes by id, parsed on demand for ephemeral nodes, and their input signatures."""

    def __init__(self, registry: Any, nodes: dict[str, ParsedNode], prompt: dict):
        self.registry = registry
        self.nodes = nodes
        self.dyn = DynamicPrompt(prompt)
        self.sigs: dict[str, bytes] = {}

    def node(self, node_id: str) -> ParsedNode:
        """Parsed node; original nodes outside the validated set and ephemeral ones are parsed on demand."""
        parsed = self.nodes.get(node_id)
        if parsed is None:
            raw = self.dyn.get_node(node_id)
            consts, links = {}, {}
            for name, value in (raw.get("inputs") or {}).items():
                if is_link(value):
                    links[name] = (value[0], int(value[1]))
                else:
                    consts[name] = unwrap_literal(value)
            parsed = ParsedNode(node_id, raw["class_type"], self.registry.get(raw["class_type"]), consts, links,
                                self.dyn.get_parent_node_id(node_id))
            self.nodes[node_id] = parsed
        return parsed

    async def sign(self, roots: list[str], make_context: ContextFactory) -> list[str]:
        """Signatures for `roots` and their unsigned ancestors (in topological order); returns them."""
        graph = Dag()
        stack, seen = list(roots), set()
        while stack:
            node_id = stack.pop()
            if node_id in seen or node_id in self.sigs:
                continue
            seen.add(node_id)
            graph.add_node(node_id)
            for src, _ in self.node(node_id).links.values():
                if src not in self.sigs:
                    graph.add_edge(src, node_id)
                    stack.append(src)
        order = graph.topological_order()
        if order is None:
            raise DependencyCycleError(f"cycle among nodes {sorted(graph.successors)}")
        await self.sign_in_order(order, make_context)
        return order

    async def sign_in_order(self, order: list[str], make_context: ContextFactory) -> bool:
        """Signatures for nodes listed sources first: class, IS_CHANGED, literals, upstream signatures. True
        when no node has IS_CHANGED: the signatures then follow from the prompt alone."""
        sigs = self.sigs
        from_prompt = True
        for node_id in order:
            node = self.node(node_id)
            definition = node.definition
            if definition.has_fingerprint:
                from_prompt = False
                own, sources = self._key_part(node, await self._fingerprint(node, make_context))
            else:
                # Without IS_CHANGED the node's own part depends only on the node, which the validation memo
                # reuses only when its inputs are identical plain values (never NaN): it is kept with the node.
                if node.key_part is None:
                    node.key_part = self._key_part(node, None)
                own, sources = node.key_part
            upstream = tuple([sigs.get(src) for src in sources])  # a list: faster than a generator
            if node.signed is not None and node.signed[0] == upstream:
                sigs[node_id] = node.signed[1]
                continue
            sigs[node_id] = signature(own, upstream)
            if not definition.has_fingerprint and None not in upstream:  # a missing source never matches
                node.signed = (upstream, sigs[node_id])
        return from_prompt

    @staticmethod
    def _key_part(node: ParsedNode, fingerprint: Any) -> tuple[bytes, tuple[str, ...]]:
        definition = node.definition
        unique = definition.spec.not_idempotent or "UNIQUE_ID" in definition.hidden.values()
        return key_part(node.class_type, fingerprint, node.id if unique else None, node.consts, node.links)

    async def _fingerprint(self, node: ParsedNode, make_context: ContextFactory) -> Any:
        """IS_CHANGED with constants only (links as None); exceptions count as NaN (always re-run)."""
        token = _set_current(make_context(node.id, 0))  # IS_CHANGED may need services (e.g. folders)
        try:
            value = node.definition.fingerprint({**dict.fromkeys(node.links), **node.consts})
            if inspect.isawaitable(value):
                value = await value
        except Exception:
            log.exception("IS_CHANGED of node %s (%s) failed; it will re-run", node.id, node.class_type)
            value = math.nan
        finally:
            _reset_current(token)
        return value
