"""Convert a canvas ("UI" format) workflow into the API format the executor runs.

The canvas saves nodes, links and positional widget values; the executor wants
`{id: {class_type, inputs}}`. This does in Python what ComfyUI's frontend does before queueing,
so that a workflow saved from a canvas (or embedded in a PNG) runs headless. Torch-free.
"""

from __future__ import annotations

from typing import Any, Protocol

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
CONTROL_VALUES = {"fixed", "increment", "decrement", "randomize"}
SEED_NAMES = {"seed", "noise_seed"}
NOTE_TYPES = {"Note", "MarkdownNote"}
VIRTUAL_TYPES = NOTE_TYPES | {"PrimitiveNode", "Reroute"}
MODE_MUTED, MODE_BYPASS = 2, 4
SUBGRAPH_INPUT_ID = -10  # the subgraph's input boundary node, as a link origin


class NodeInfoSource(Protocol):
    """What the converter needs from the registry: `/object_info`-shaped data for one class."""

    def object_info_for(self, class_type: str) -> dict: ...


def is_ui_workflow(data: Any) -> bool:
    """True for canvas-format JSON (a `nodes` list), False for API format."""
    return isinstance(data, dict) and isinstance(data.get("nodes"), list)


def _links_by_id(ui: dict) -> dict[int, tuple]:
    """{link_id: (origin_id, origin_slot, target_id, target_slot, type)} for 0.4 arrays and v1 objects."""
    links = {}
    for link in ui.get("links") or []:
        if isinstance(link, dict):
            links[link["id"]] = (link["origin_id"], link["origin_slot"], link["target_id"],
                                 link["target_slot"], link.get("type", "*"))
        elif isinstance(link, list) and len(link) >= 5:
            links[link[0]] = (link[1], link[2], link[3], link[4], link[5] if len(link) > 5 else "*")
    return links


def _type_matches(a: str, b: str) -> bool:
    if a == "*" or b == "*":
        return True
    return bool(set(str(a).split(",")) & set(str(b).split(",")))


class _Scope:
    """One graph level: the top graph, or a subgraph as instantiated by one host node."""

    def __init__(self, graph: dict, path: tuple[str, ...] = (), parent: _Scope | None = None,
                 host: dict | None = None, definition: dict | None = None):
        self.nodes = {str(n["id"]): n for n in graph.get("nodes", [])}
        self.links = _links_by_id(graph)
        self.path, self.parent, self.host, self.definition = path, parent, host, definition

    def api_id(self, node_id: Any) -> str:
        """Execution id: inner nodes of subgraphs are `host:inner` (as ComfyUI numbers them)."""
        return ":".join((*self.path, str(node_id)))


class _Converter:
    def __init__(self, ui: dict, registry: NodeInfoSource | None):
        self.registry = registry
        self.subgraphs: dict[str, dict] = {}
        self._collect_subgraphs(ui)
        self.root = _Scope(ui)
        self.children: dict[tuple[str, ...], _Scope] = {}

    def _collect_subgraphs(self, graph: dict) -> None:
        for definition in (graph.get("definitions") or {}).get("subgraphs") or []:
            self.subgraphs[str(definition["id"])] = definition
            self._collect_subgraphs(definition)

    def child(self, scope: _Scope, host: dict) -> _Scope:
        path = (*scope.path, str(host["id"]))
        if path not in self.children:
            definition = self.subgraphs[str(host["type"])]
            self.children[path] = _Scope(definition, path, scope, host, definition)
        return self.children[path]

    def info(self, class_type: str) -> dict | None:
        if self.registry is None:
            return None
        try:
            return self.registry.object_info_for(class_type)
        except KeyError:
            return None

    def resolve(self, scope: _Scope, link_id: int | None) -> tuple[str, Any] | None:
        """Follow a link through reroutes, primitives, bypassed nodes and subgraph boundaries to
        ("link", [id, slot]) or ("value", literal); ("keep", None) when an unlinked subgraph input leaves
        the inner widget's own value; None when it ends at a muted, missing or note node. A loop, not
        recursion: a chain of thousands of reroutes resolves in linear time and constant stack."""
        seen: set[tuple] = set()
        while True:
            if link_id is None or link_id not in scope.links or (scope.path, link_id) in seen:
                return None
            seen.add((scope.path, link_id))
            step = self._step(scope, link_id)
            if step is None or step[0] != "follow":
                return step
            _, scope, link_id = step

    def _step(self, scope: _Scope, link_id: int) -> tuple | None:
        """Where one link leads: a final answer (see `resolve`), or ("follow", scope, next link id)."""
        origin_id, origin_slot, _, _, link_type = scope.links[link_id]
        if origin_id == SUBGRAPH_INPUT_ID and scope.host is not None:
            return self._from_subgraph_input(scope, int(origin_slot))
        origin = scope.nodes.get(str(origin_id))
        if origin is None or origin.get("mode") == MODE_MUTED:
            return None
        kind = origin.get("type")
        if kind == "Reroute":
            inputs = origin.get("inputs") or [{}]
            return ("follow", scope, inputs[0].get("link"))
        if kind == "PrimitiveNode":
            values = origin.get("widgets_values") or []
            return ("value", values[0]) if values else ("keep", None)
        if kind in NOTE_TYPES:
            return None
        if origin.get("mode") == MODE_BYPASS:
            return ("follow", scope, self._bypass_source(origin, origin_slot, link_type))
        if str(kind) in self.subgraphs:
            inner = self.child(scope, origin)
            outputs = inner.definition.get("outputs") or []
            link_ids = outputs[origin_slot].get("linkIds") or [] if origin_slot < len(outputs) else []
            return ("follow", inner, link_ids[0]) if link_ids else None
        return ("link", [scope.api_id(origin_id), int(origin_slot)])

    def _from_subgraph_input(self, scope: _Scope, slot: int) -> tuple | None:
        """What feeds a subgraph's input `slot`: the host's link (to follow), or its promoted widget value."""
        declared = scope.definition.get("inputs") or []
        name = declared[slot].get("name") if slot < len(declared) else None
        host_inputs = scope.host.get("inputs") or []
        match = next((i for i in host_inputs if name is not None and i.get("name") == name), None)
        if match is None and slot < len(host_inputs):
            match = host_inputs[slot]
        if match is None:
            return ("keep", None)
        if match.get("link") is not None:
            return ("follow", scope.parent, match["link"])
        widget_inputs = [i for i in host_inputs if i.get("widget")]
        values = scope.host.get("widgets_values")
        if match in widget_inputs and isinstance(values, list) and widget_inputs.index(match) < len(values):
            return ("value", values[widget_inputs.index(match)])
        return ("keep", None)

    @staticmethod
    def _bypass_source(node: dict, slot: int, link_type: str) -> int | None:
        """The link feeding a bypassed node's input of the output's type (same slot index first)."""
        outputs = node.get("outputs") or []
        out_type = outputs[slot].get("type", link_type) if slot < len(outputs) else link_type
        linked = [(index, i) for index, i in enumerate(node.get("inputs") or []) if i.get("link") is not None]
        for _, candidate in sorted(linked, key=lambda pair: (pair[0] != slot, pair[0])):
            if _type_matches(candidate.get("type", "*"), out_type):
                return candidate["link"]
        return None

    def convert(self, scope: _Scope | None = None, prompt: dict | None = None) -> dict:
        scope = scope or self.root
        prompt = {} if prompt is None else prompt
        for node_id, node in scope.nodes.items():
            kind = node.get("type")
            if kind in VIRTUAL_TYPES or node.get("mode") in (MODE_MUTED, MODE_BYPASS):
                continue
            if str(kind) in self.subgraphs:
                self.convert(self.child(scope, node), prompt)
                continue
            info = self.info(kind)
            inputs = {name: _wrap_list(v) for name, v in widget_values(node, info).items()}
            for ui_input in node.get("inputs") or []:
                if ui_input.get("link") is None:
                    continue
                name = ui_input.get("name")
                resolved = self.resolve(scope, ui_input["link"])
                if resolved is None:
                    inputs.pop(name, None)
                elif resolved[0] == "link":
                    inputs[name] = resolved[1]
                elif resolved[0] == "value":
                    inputs[name] = _wrap_list(resolved[1])
            title = node.get("title") or (info or {}).get("display_name") or kind
            prompt[scope.api_id(node_id)] = {"class_type": kind, "inputs": inputs, "_meta": {"title": title}}
        return prompt


def widget_values(node: dict, info: dict | None) -> dict[str, Any]:
    """Map a canvas node's `widgets_values` onto widget names, skipping UI-only values
    (the seed's control_after_generate choice, the image upload button)."""
    values = node.get("widgets_values")
    if isinstance(values, dict):
        return dict(values)
    if not values or info is None:
        return {}
    socket_widgets = {i["name"] for i in node.get("inputs") or [] if i.get("widget")}
    mapped: dict[str, Any] = {}
    position = 0
    for name, type_, opts in _declared_inputs(info):
        if not _is_widget(type_):
            continue
        if opts.get("forceInput") and name not in socket_widgets:
            continue
        if position >= len(values):
            break
        mapped[name] = values[position]
        position += 1
        has_control = opts.get("control_after_generate") or (type_ == "INT" and name in SEED_NAMES)
        if has_control and position < len(values) and values[position] in CONTROL_VALUES:
            position += 1
        if opts.get("image_upload") and position < len(values) and values[position] in ("image", "video"):
            position += 1
    return mapped


def _declared_inputs(info: dict) -> list[tuple[str, Any, dict]]:
    """(name, type, options) for required then optional inputs, in declaration order."""
    declared = info.get("input") or {}
    order = info.get("input_order") or {}
    result = []
    for section in ("required", "optional"):
        specs = declared.get(section) or {}
        for name in order.get(section) or list(specs):
            spec = specs.get(name)
            if spec is None:
                continue
            spec = list(spec) if isinstance(spec, (list, tuple)) else [spec]
            opts = spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}
            result.append((name, spec[0], opts))
    return result


def _is_widget(type_: Any) -> bool:
    return isinstance(type_, list) or type_ in WIDGET_TYPES


def _wrap_list(value: Any) -> Any:
    return {"__value__": value} if isinstance(value, list) else value


def ui_to_api(ui: dict, registry: NodeInfoSource | None) -> dict:
    """Convert a canvas workflow to an API prompt.

    Notes and reroutes vanish, primitives' values flow into their targets, muted nodes (mode 2)
    are dropped with the inputs they fed, bypassed nodes (mode 4) pass a matching-type input
    through, subgraphs are flattened (inner nodes get ids `host:inner`). Positional widget values
    are named from the registry's input order; nodes unknown to the registry keep only their links
    (validation then reports the unknown type).
    """
    if not is_ui_workflow(ui):
        raise ValueError("not a canvas workflow: expected an object with a 'nodes' list")
    return _Converter(ui, registry).convert()
