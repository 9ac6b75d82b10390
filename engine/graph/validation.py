"""Prompt validation before anything runs: every problem at once, per node and input, in ComfyUI's shape.

Errors are `{type, message, details, extra_info}`; `node_errors` is keyed by node id with `class_type` and
`dependent_outputs`. Outputs whose ancestry is valid still run (partial validation). Iterative throughout,
so graphs of any depth validate.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import difflib
import inspect
import math
import traceback
from dataclasses import dataclass, field
from typing import Any

from engine.graph.dag import Dag
from engine.graph.spec import InputSpec, NodeDefinition, input_options
from engine.graph.types import LINK_ONLY_TYPES, is_link, types_compatible, unwrap_literal
from engine.graph.validation_memo import ValidationMemo, prompt_key


def _to_bool(value: Any) -> bool:
    """bool(), except that the strings "false"/"0"/"no"/"off" mean False (bool("false") would be True)."""
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    return bool(value)


_COERCE = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": _to_bool}
_CHOICES_ECHOED = 20


@dataclass
class ParsedNode:
    """A node ready to execute: coerced constants and links kept apart."""

    id: str
    class_type: str
    definition: NodeDefinition
    consts: dict[str, Any]
    links: dict[str, tuple[str, int]]
    parent: str | None = None
    #: (upstream signatures, signature) of the last run that signed this node: a node reused by the
    #: validation memo under unchanged sources is not hashed again (promptgraph.py)
    signed: tuple[tuple[bytes, ...], bytes] | None = field(default=None, compare=False, repr=False)
    #: (own part of the signature, its sources in that order) of a node without IS_CHANGED (calling.key_part)
    key_part: tuple[bytes, tuple[str, ...]] | None = field(default=None, compare=False, repr=False)


@dataclass
class ValidationResult:
    ok: bool
    error: dict | None
    good_outputs: list[str]
    node_errors: dict[str, dict]
    dropped_outputs: list[str] = field(default_factory=list)
    nodes: dict[str, ParsedNode] = field(default_factory=dict)
    graph: Dag | None = None
    #: topological order of the nodes the good outputs need
    order: list[str] = field(default_factory=list)
    #: cache signatures of `order`'s nodes, from a run of this prompt where none has IS_CHANGED: shared with
    #: the validation memo's copies (validation_memo.py), so the same prompt queued again is not signed again
    signatures: dict[str, bytes] = field(default_factory=dict)


def make_error(kind: str, message: str, details: str = "", **extra_info: Any) -> dict:
    """An error object in ComfyUI's shape."""
    return {"type": kind, "message": message, "details": details, "extra_info": extra_info}


def _input_error(kind: str, message: str, item: InputSpec, value: Any, details: str, **extra: Any) -> dict:
    return make_error(kind, message, details, input_name=item.name,
                      input_config=[item.type, input_options(item)], received_value=value, **extra)


def resolve_sync(value: Any) -> Any:
    """Await `value` if it is awaitable, from sync code, even when an event loop is already running (then in
    a thread that sees the caller's context variables, e.g. the running node)."""
    if not inspect.isawaitable(value):
        return value

    async def wait():
        return await value

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wait())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(contextvars.copy_context().run, asyncio.run, wait()).result()


def _choices_text(choices: list) -> str:
    return repr(choices) if len(choices) <= _CHOICES_ECHOED else f"(list of length {len(choices)})"


class _Validator:
    def __init__(self, prompt: dict, registry: Any):
        self.prompt = prompt
        self.registry = registry
        self.choices: dict[tuple[str, str], list] = {}
        self.errors: dict[str, list[dict]] = {}
        self.edges: list[tuple[str, str]] = []
        self.definitions: dict[str, NodeDefinition] = {}
        self.memo: ValidationMemo | None = getattr(registry, "validation_memo", None)
        #: every node parsed so far is in the per-node memo (so the whole prompt's verdict may be kept)
        self.all_kept = self.memo is not None

    def definition(self, class_type: str) -> NodeDefinition:
        found = self.definitions.get(class_type)
        if found is None:
            found = self.definitions[class_type] = self.registry.get(class_type)
        return found

    def fail(self, node_id: str, error: dict) -> None:
        self.errors.setdefault(node_id, []).append(error)

    def check_link(self, node_id: str, item: InputSpec | None, name: str, value: Any,
                   check_type: bool = True) -> tuple[str, int, str] | None:
        """(source, index, output type) of a well-formed link to an existing output, else None (error recorded)."""
        spec_item = item or InputSpec(name=name, type="*")
        if not is_link(value):
            self.fail(node_id, _input_error("bad_linked_input", "Bad linked input, must be a length-2 list of "
                                            "[string, integer]", spec_item, value, f"{name}: {value!r}"))
            return None
        src, index = value
        source = self.prompt.get(src)
        if not isinstance(source, dict) or source.get("class_type") not in self.registry:
            self.fail(node_id, _input_error("bad_linked_input", "Linked node does not exist", spec_item, value,
                                            f"{name}: node '{src}' is not in the prompt", linked_node=value))
            return None
        outputs = self.definition(source["class_type"]).spec.outputs
        if not 0 <= index < len(outputs):
            self.fail(node_id, _input_error(
                "bad_linked_input", "Linked output index out of range", spec_item, value,
                f"{name}: node '{src}' ({source['class_type']}) has {len(outputs)} outputs, "
                f"index {index} does not exist", linked_node=value))
            return None
        self.edges.append((src, node_id))
        if check_type and item is not None and not types_compatible(outputs[index].type, item.type):
            self.fail(node_id, _input_error(
                "return_type_mismatch", "Return type mismatch between linked nodes", item, value,
                f"{name}, received_type({outputs[index].type}) mismatch input_type({item.type})",
                received_type=outputs[index].type, linked_node=value))
        return src, index, outputs[index].type

    def check_literal(self, node_id: str, definition: NodeDefinition, item: InputSpec, value: Any,
                      claims: frozenset[str]) -> Any:
        """The coerced literal; records type/range/option errors."""
        value = unwrap_literal(value)
        if isinstance(item.type, str) and item.type in LINK_ONLY_TYPES:
            if value is not None or item.section == "required":
                self.fail(node_id, _input_error("bad_linked_input", f"Expected a link from an output of type "
                                                f"{item.type}", item, value, f"{item.name}: got the value {value!r}, "
                                                f"but {item.type} values come only from a connected node"))
            return value
        coerce = _COERCE.get(item.type)
        if coerce is not None:
            try:
                value = coerce(value)
                if item.type == "FLOAT" and math.isnan(value):
                    raise ValueError("NaN")
            except (TypeError, ValueError, OverflowError) as exc:
                self.fail(node_id, _input_error("invalid_input_type", f"Failed to convert an input value to a "
                                                f"{item.type} value", item, value, f"{item.name}, {value!r}, {exc}"))
                return value
        if item.name in claims or "*" in claims:
            return value
        if item.type in ("INT", "FLOAT"):
            if item.min is not None and value < item.min:
                self.fail(node_id, _input_error("value_smaller_than_min", f"Value {value} smaller than min of "
                                                f"{item.min}", item, value, f"{item.name}: {value} < {item.min}"))
            if item.max is not None and value > item.max:
                self.fail(node_id, _input_error("value_bigger_than_max", f"Value {value} bigger than max of "
                                                f"{item.max}", item, value, f"{item.name}: {value} > {item.max}"))
        elif item.type == "COMBO":
            key = (definition.spec.name, item.name)
            if key not in self.choices:
                self.choices[key] = definition.combo_choices(item.name, self.registry.services)
            choices = self.choices[key]
            picked = value if item.extra.get("multi_select") and isinstance(value, list) else [value]
            unknown = [v for v in picked if v not in choices]
            if unknown:
                self.fail(node_id, self.not_in_list(item, value, unknown[0], choices))
        return value

    def not_in_list(self, item: InputSpec, value: Any, unknown: Any, choices: list) -> dict:
        """value_not_in_list; for a combo of model files (`model_folder` option) the message says a model
        file is missing and names the folders searched and the files found there."""
        folders = getattr(self.registry.services, "folders", None)
        kind = item.extra.get("model_folder")
        if item.extra.get("image_upload") and folders is not None:
            root = item.extra.get("image_folder") or "input"
            found = _choices_text(choices) if choices else "no files"
            details = (f"{item.name}: '{unknown}' is not in the {root} folder ({folders.shown(folders.root(root))}/); "
                       f"found: {found}. Copy the file there or upload it")
            return _input_error("value_not_in_list", f"File not found in the {root} folder", item, value, details)
        if not kind or folders is None:
            details = f"{item.name}: '{unknown}' not in {_choices_text(choices)}"
            return _input_error("value_not_in_list", "Value not in list", item, value, details)
        searched = ", ".join(folders.shown(p) for p in folders.folders_for(kind))
        found = _choices_text(choices) if choices else "no model files"
        details = f"{item.name}: '{unknown}' is not in models/{kind} (searched: {searched}); found: {found}"
        return _input_error("value_not_in_list", f"Model file not found in models/{kind}", item, value, details,
                            model_folder=kind)

    def parse(self, node_id: str) -> ParsedNode:
        raw = self.prompt[node_id]
        definition = self.definition(raw["class_type"])
        inputs = raw.get("inputs") or {}
        consts: dict[str, Any] = {}
        links: dict[str, tuple[str, int]] = {}
        input_types: dict[str, str] = {}
        claims = definition.validator_claims()
        for item in definition.spec.inputs:
            if item.section == "hidden" and item.name not in definition.passthrough_hidden:
                continue
            if item.name not in inputs:
                if item.section == "required":
                    self.fail(node_id, _input_error("required_input_missing", "Required input is missing",
                                                    item, None, f"{item.name} (expects {item.type})"))
                continue
            value = inputs[item.name]
            if isinstance(value, list):
                link = self.check_link(node_id, item, item.name, value, "input_types" not in claims)
                if link is not None:
                    links[item.name] = link[:2]
                    input_types[item.name] = link[2]
            else:
                consts[item.name] = self.check_literal(node_id, definition, item, value, claims)
        declared = definition.declared_inputs
        for name, value in inputs.items():
            if name not in declared and isinstance(value, list):
                link = self.check_link(node_id, None, name, value)
                if link is not None:
                    links[name] = link[:2]
        if definition.has_custom_validation and node_id not in self.errors:
            self.custom(node_id, definition, consts, links, input_types)
        return ParsedNode(node_id, raw["class_type"], definition, consts, links)

    def custom(self, node_id: str, definition: NodeDefinition, consts: dict, links: dict, input_types: dict) -> None:
        constants = {**dict.fromkeys(links), **consts}
        try:
            verdict = resolve_sync(definition.custom_validate(constants, input_types))
        except Exception as exc:  # noqa: BLE001 - a validator's exception is a validation error
            self.fail(node_id, make_error("exception_during_validation", "Exception when validating node",
                                          f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()))
            return
        if verdict is not True:
            details = verdict if isinstance(verdict, str) else f"returned {verdict!r}"
            self.fail(node_id, make_error("custom_validation_failed", "Custom validation failed for node",
                                          details, received_value=verdict))


def _unknown_class_errors(prompt: dict, registry: Any) -> dict[str, dict]:
    errors = {}
    for node_id, raw in prompt.items():
        class_type = raw.get("class_type") if isinstance(raw, dict) else None
        if class_type is None:
            errors[node_id] = make_error("invalid_prompt", "Cannot execute because a node is missing the "
                                         "class_type property.", f"Node ID '#{node_id}'")
        elif not isinstance(class_type, str):
            errors[node_id] = make_error("invalid_prompt", "class_type must be a string (a node name)",
                                         f"Node ID '#{node_id}': got {type(class_type).__name__}")
        elif raw.get("inputs") is not None and not isinstance(raw["inputs"], dict):  # [] included
            errors[node_id] = make_error("invalid_prompt", "inputs must be an object of input name -> value",
                                         f"Node ID '#{node_id}' ({class_type}): got {type(raw['inputs']).__name__}",
                                         input_name="inputs")
        elif class_type not in registry:
            guesses = _close_names(class_type, registry)
            hint = f"; did you mean {' or '.join(guesses)}?" if guesses else ""
            errors[node_id] = make_error("invalid_prompt", f"Cannot execute because node {class_type} does not "
                                         "exist.", f"Node ID '#{node_id}'{hint}", class_type=class_type,
                                         did_you_mean=guesses)
    return errors


def _close_names(class_type: str, registry: Any) -> list[str]:
    """Up to three registered node names a typo most likely meant (case and separators ignored first)."""
    names = registry.names() if hasattr(registry, "names") else []
    folded = {name.lower().replace("_", "").replace(" ", ""): name for name in names}
    exact = folded.get(class_type.lower().replace("_", "").replace(" ", ""))
    if exact is not None:
        return [exact]
    return difflib.get_close_matches(class_type, names, n=3, cutoff=0.75)


def _class_name(raw: Any) -> str | None:
    class_type = raw.get("class_type") if isinstance(raw, dict) else None
    return class_type if isinstance(class_type, str) else None


def _failed(error: dict, node_errors: dict | None = None) -> ValidationResult:
    return ValidationResult(False, error, [], node_errors or {})


def validate_prompt(prompt: dict, registry: Any, targets: list[str] | None = None,
                    parsed_json: bool = False) -> ValidationResult:
    """Check a whole API prompt; see the module docstring for the result's shape. `parsed_json`: the prompt
    is a value parsed from JSON text (no tuples, NaN or other Python types), so the result of validating the
    very same prompt before may be reused (validation_memo.py)."""
    memo = getattr(registry, "validation_memo", None)
    key = prompt_key(prompt, targets) if parsed_json and memo is not None and isinstance(prompt, dict) else None
    if key is not None and (kept := memo.recall(key, registry.get)) is not None:
        return kept
    if not isinstance(prompt, dict):
        return _failed(make_error("invalid_prompt", "The prompt must be a JSON object of nodes",
                                  f"got {type(prompt).__name__}"))
    unknown = _unknown_class_errors(prompt, registry)
    if unknown:
        first = next(iter(unknown.values()))
        node_errors = {i: {"errors": [e], "dependent_outputs": [], "class_type": _class_name(prompt[i])}
                       for i, e in unknown.items()}
        return _failed(first, node_errors)
    if targets is not None:
        targets = [str(t) for t in targets]
        missing = [t for t in targets if t not in prompt]
        if missing:
            return _failed(make_error("invalid_prompt", "Target node does not exist",
                                      ", ".join(f"Node ID '#{t}'" for t in missing)))
        outputs = targets
    else:
        is_output: dict[str, bool] = {}  # per class, not per node
        for raw in prompt.values():
            if raw["class_type"] not in is_output:
                is_output[raw["class_type"]] = registry.get(raw["class_type"]).spec.output_node
        outputs = [i for i, raw in prompt.items() if is_output[raw["class_type"]]]
    if not outputs:
        return _failed(make_error("prompt_no_outputs", "Prompt has no outputs", ""))
    checker = _Validator(prompt, registry)
    result = _validate_graph(checker, outputs)
    if key is not None and result.ok and not result.node_errors and checker.all_kept:
        memo.remember(key, result, prompt, registry.get)
    return result


def _report_cycles(checker: _Validator, edges: list[tuple[str, str]], nodes: dict[str, ParsedNode]) -> None:
    """One error per cycle, on the node whose input closes it, listing the cycle's nodes in order
    (linear in the graph: a cycle of n nodes is reported once, not once per node)."""
    import networkx as nx  # only a refused prompt gets here

    graph = nx.DiGraph(edges)
    for component in nx.strongly_connected_components(graph):
        if len(component) == 1 and not any(graph.has_edge(n, n) for n in component):
            continue
        cycle = nx.find_cycle(graph.subgraph(component))
        source, closing = cycle[-1][0], cycle[-1][1]
        input_name = next((name for name, (src, _) in nodes[closing].links.items() if src == source), "?")
        path = " -> ".join([*(u for u, _ in cycle), closing])
        checker.fail(closing, make_error("dependency_cycle", "Dependency cycle detected",
                                         f"input '{input_name}' of node {closing} closes the cycle {path}",
                                         input_name=input_name, cycle=[u for u, _ in cycle]))


def _parse_reachable(checker: _Validator, outputs: list[str]) -> dict[str, ParsedNode]:
    """Parse (and so check) every node the outputs depend on, reusing the verdicts of unchanged nodes (see
    validation_memo.py); a node that raises is reported, not parsed."""
    nodes: dict[str, ParsedNode] = {}
    stack = list(outputs)
    memo, prompt, definition_of = checker.memo, checker.prompt, checker.definition
    while stack:
        node_id = stack.pop()
        if node_id in nodes:
            continue
        try:
            parsed = memo.reuse(node_id, prompt[node_id], prompt, definition_of) if memo is not None else None
            if parsed is not None:
                checker.edges.extend((src, node_id) for src, _ in parsed.links.values())
            else:
                parsed = checker.parse(node_id)
                kept = memo is not None and node_id not in checker.errors and memo.keep(
                    parsed, prompt[node_id], prompt, definition_of)
                checker.all_kept = checker.all_kept and kept
        except Exception as exc:  # noqa: BLE001 - reported per node
            checker.fail(node_id, make_error("exception_during_validation", "Exception when validating node",
                                             f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()))
            parsed = ParsedNode(node_id, checker.prompt[node_id]["class_type"], None, {}, {})
        nodes[node_id] = parsed
        stack.extend(src for src, _ in parsed.links.values() if src not in nodes)
    return nodes


def _validate_graph(checker: _Validator, outputs: list[str]) -> ValidationResult:
    nodes = _parse_reachable(checker, outputs)
    graph = Dag(nodes, checker.edges)
    order = graph.topological_order()
    if order is None:
        order = []
        _report_cycles(checker, checker.edges, nodes)
    bad = graph.descendants(checker.errors)
    node_errors = {node_id: {"errors": errors, "dependent_outputs": [],
                             "class_type": checker.prompt[node_id]["class_type"]}
                   for node_id, errors in checker.errors.items()}
    for output in outputs:
        if output in bad:
            for node_id in graph.ancestors([output]) & node_errors.keys():
                node_errors[node_id]["dependent_outputs"].append(output)
    for entry in node_errors.values():
        entry["dependent_outputs"].sort()
    good = [o for o in outputs if o not in bad]
    dropped = [o for o in outputs if o in bad]
    if not good:
        reasons = [f"node {i} ({e['class_type']}): {err['message']}: {err['details']}"
                   for i, e in node_errors.items() for err in e["errors"]]
        return ValidationResult(False, make_error("prompt_outputs_failed_validation", "Prompt outputs failed "
                                                  "validation", "\n".join(reasons)), [], node_errors, dropped)
    if bad:
        keep = graph.ancestors(good)
        order = [n for n in order if n in keep] if order else _order_within(graph, keep)
    return ValidationResult(True, None, good, node_errors, dropped, nodes, graph, order)


def _order_within(graph: Dag, keep: set[str]) -> list[str]:
    """Topological order of the `keep` part of a graph whose other part has a cycle."""
    order = Dag(keep, [(src, dst) for src in keep for dst in graph.successors[src] if dst in keep]).topological_order()
    return order or []
