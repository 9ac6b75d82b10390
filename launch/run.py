"""Headless runs: `python main.py run WORKFLOW` loads a workflow, applies --set overrides, validates,
executes with a progress display and reports what was written.

Exit codes: 0 success, 2 the workflow could not be read or failed validation, 3 a node failed,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import json
import pydoc
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from engine.graph.context import Interrupt
from engine.graph.executor import Executor
from engine.graph.model_sources import explain_missing_models
from engine.graph.types import is_link
from engine.graph.validation import validate_prompt
from engine.graph.workflow_io import WorkflowFormatError, load_workflow
from engine.paths import Folders
from engine.progress_display import ProgressDisplay, upstream_nodes
from launch.cli import pack_problems, registry_from_args

EXIT_OK, EXIT_INVALID, EXIT_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130


class WorkflowInputError(ValueError):
    """A --set or --target the workflow cannot satisfy."""


def match_nodes(prompt: dict, selector: str) -> list[str]:
    """Node ids named by `selector`: an id, else a `_meta.title`, else a class_type."""
    if selector in prompt:
        return [selector]
    for key in (lambda n: (n.get("_meta") or {}).get("title"), lambda n: n.get("class_type")):
        found = [node_id for node_id, n in prompt.items() if key(n) == selector]
        if found:
            return found
    return []


def parse_value(text: str) -> Any:
    """JSON when it parses (42, 1.5, true, [1,2], "x"), else the raw string; lists get wrapped as literals."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text
    return {"__value__": value} if isinstance(value, list) and not is_link(value) else value


def apply_overrides(prompt: dict, overrides: list[str], registry) -> list[str]:
    """Apply `NODE.INPUT=VALUE` overrides in place; returns one line per change for the log."""
    changes = []
    for override in overrides:
        target, sep, text = override.partition("=")
        selector, dot, input_name = target.rpartition(".")
        if not sep or not dot or not selector or not input_name:
            raise WorkflowInputError(f"--set {override!r}: expected NODE.INPUT=VALUE, e.g. 3.seed=42")
        ids = match_nodes(prompt, selector)
        if not ids:
            raise WorkflowInputError(f"--set {override!r}: no node with id, title or class_type {selector!r}")
        if len(ids) > 1:
            raise WorkflowInputError(f"--set {override!r}: {selector!r} matches nodes {', '.join(ids)}; "
                                     f"use a node id")
        node = prompt[ids[0]]
        declared = _declared_inputs(registry, node["class_type"])
        if declared is not None and input_name not in declared:
            raise WorkflowInputError(f"--set {override!r}: node {ids[0]} ({node['class_type']}) has no input "
                                     f"{input_name!r}; inputs: {', '.join(declared) or '(none)'}")
        node.setdefault("inputs", {})[input_name] = parse_value(text)
        changes.append(f"set #{ids[0]} {node['class_type']}.{input_name} = {text}")
    return changes


def _declared_inputs(registry, class_type: str) -> list[str] | None:
    try:
        info = registry.object_info_for(class_type)
    except KeyError:
        return None
    return [name for section in ("required", "optional") for name in (info["input"].get(section) or {})]


def resolve_targets(prompt: dict, targets: list[str] | None, registry=None) -> list[str] | None:
    """Node ids for --target selectors; each must be an output node (one that saves or shows something),
    else running it would end with exit 0 and nothing to show for it."""
    if targets is None:
        return None
    ids: list[str] = []
    for selector in targets:
        found = match_nodes(prompt, selector)
        if not found:
            raise WorkflowInputError(f"--target {selector!r}: no node with id, title or class_type {selector!r}")
        ids.extend(i for i in found if i not in ids)
    outputs = [i for i, n in prompt.items() if registry is not None and _is_output(registry, n.get("class_type"))]
    for node_id in ids:
        if registry is not None and node_id not in outputs and prompt[node_id].get("class_type") in registry:
            listed = ", ".join(f"{i} ({prompt[i]['class_type']})" for i in outputs) or "none"
            raise WorkflowInputError(f"--target {node_id} ({prompt[node_id]['class_type']}) saves and shows nothing: "
                                     f"it is not an output node. Output nodes in this workflow: {listed}")
    return ids


def _is_output(registry, class_type: object) -> bool:
    return isinstance(class_type, str) and class_type in registry and registry.get(class_type).spec.output_node


def describe_validation(prompt: dict, validation) -> list[str]:
    """Readable lines: one per problem, naming node id, class, input, reason and the error type."""
    lines = []
    error = validation.error
    if error and not validation.node_errors:
        lines.append(_reason(error))
    for node_id, entry in (validation.node_errors or {}).items():
        class_type = entry.get("class_type") or prompt.get(node_id, {}).get("class_type", "?")
        for problem in entry.get("errors", []):
            input_name = (problem.get("extra_info") or {}).get("input_name")
            where = f"node {node_id} ({class_type})" + (f", input '{input_name}'" if input_name else "")
            lines.append(f"{where}: {_reason(problem)}")
    return lines


def _reason(error: dict) -> str:
    message, details = error.get("message", "invalid"), error.get("details") or ""
    if details.startswith("Node ID"):  # the node is named already; keep what follows (a "did you mean")
        details = details.partition("; ")[2]
    if details in message:
        details = ""
    return f"{message}" + (f": {details}" if details else "") + f" [{error.get('type', 'error')}]"


def _install_interrupt(interrupt: Interrupt):
    def on_sigint(signum, frame):
        if interrupt.is_set():
            raise KeyboardInterrupt
        interrupt.set()
        print("\ninterrupting after the current step (Ctrl-C again to abort now)", file=sys.stderr)

    return signal.signal(signal.SIGINT, on_sigint)


def execute(args: argparse.Namespace, folders: Folders, registry, prompt: dict, workflow: dict | None,
            targets: list[str] | None, outputs: list[str]) -> int:
    """Run a validated prompt with a progress display and Ctrl-C handling; report what it wrote."""
    classes = {n.get("class_type") for n in prompt.values()}
    titles = {c: registry.get(c).spec.display_name for c in classes if c in registry}
    display = ProgressDisplay(prompt, len(upstream_nodes(prompt, outputs)), quiet=args.quiet, display_names=titles)
    interrupt = Interrupt()
    previous = _install_interrupt(interrupt)
    extra_data = {"extra_pnginfo": {"workflow": workflow}} if workflow is not None else {}
    started = time.perf_counter()
    try:
        result = Executor(registry).run(prompt, str(uuid.uuid4()), display, extra_data=extra_data,
                                        targets=targets, interrupt=interrupt)
    except KeyboardInterrupt:
        display.finish("aborted")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
    code = {"success": EXIT_OK, "interrupted": EXIT_INTERRUPTED}.get(result.status, EXIT_FAILED)
    display.finish({EXIT_OK: "done", EXIT_INTERRUPTED: "interrupted"}.get(code, "failed"))
    if result.error and code == EXIT_FAILED:
        _print_execution_error(prompt, result.error)
    files = [str(path) for _, path in folders.files_in_ui(result.outputs)]
    if args.as_json:
        print(json.dumps({
            "status": result.status, "outputs": result.outputs, "files": files,
            "timings": result.timings, "executed": result.executed, "cached": result.cached,
            "error": result.error, "wall_time": time.perf_counter() - started,
        }, default=str))
    else:
        for path in files:
            print(path)
    return code


def _report_invalid(args: argparse.Namespace, problems: list[str], validation) -> int:
    print(f"Workflow failed validation ({len(problems)} problem(s)):", file=sys.stderr)
    for line in problems:
        print("  " + line, file=sys.stderr)
    if args.as_json:
        print(json.dumps({"status": "invalid", "error": validation.error, "node_errors": validation.node_errors},
                         default=str))
    return EXIT_INVALID


def _report_unreadable(args: argparse.Namespace, exc: Exception) -> int:
    """A workflow that cannot be read, or a --set/--target it cannot satisfy."""
    message = str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        message = f"cannot read {exc.filename or args.workflow}: {exc.strerror}"
    print(f"error: {message}", file=sys.stderr)
    if args.as_json:
        print(json.dumps({"status": "invalid", "error": {"type": type(exc).__name__, "message": message}}))
    return EXIT_INVALID


def _prepared(args: argparse.Namespace, registry) -> tuple[dict, dict | None, list[str] | None]:
    """(prompt with --set applied, canvas workflow or None, --target node ids or None)."""
    source = sys.stdin.buffer.read() if str(args.workflow) == "-" else args.workflow
    prompt, workflow = load_workflow(source, registry)
    for line in apply_overrides(prompt, args.overrides, registry):
        print(line, file=sys.stderr)
    return prompt, workflow, resolve_targets(prompt, args.targets, registry)


def _print_execution_error(prompt: dict, error: dict) -> None:
    node_id = error.get("node_id")
    class_type = error.get("node_type") or prompt.get(str(node_id), {}).get("class_type", "?")
    print(f"node {node_id} ({class_type}) failed: {error.get('exception_type', 'Error')}: "
          f"{error.get('exception_message', '')}", file=sys.stderr)
    tb = error.get("traceback") or []
    if tb and not _is_user_mistake(error.get("exception_type", "")):
        print("".join(tb).rstrip(), file=sys.stderr)


def _is_user_mistake(exception_type: str) -> bool:
    """Nodes report bad values and missing, unreadable or corrupt files as ValueError / OSError (and
    subclasses such as Pillow's UnidentifiedImageError): their message says it all, a traceback is only
    noise. Anything else may be a bug: keep the traceback."""
    cls = pydoc.locate(exception_type)
    return isinstance(cls, type) and issubclass(cls, (ValueError, OSError))


def run_command(args: argparse.Namespace, base_dir: Path) -> int:
    """The `run` subcommand. Only the node modules the workflow names are imported (and torch only if
    they need it); packs load when it names a node no core module has."""
    folders, registry, report = registry_from_args(args, base_dir, on_demand=True)
    try:
        prompt, workflow, targets = _prepared(args, registry)
    except (OSError, WorkflowFormatError, WorkflowInputError) as exc:
        return _report_unreadable(args, exc)
    validation = validate_prompt(prompt, registry, targets)
    for line in pack_problems(report):  # of the modules and packs this workflow needed
        print(line, file=sys.stderr)
    explain_missing_models(validation.node_errors, workflow)
    problems = describe_validation(prompt, validation)
    if problems or not validation.ok:
        return _report_invalid(args, problems, validation)
    return execute(args, folders, registry, prompt, workflow, targets, list(validation.good_outputs))
