"""Differences between Loom's served /object_info and ComfyUI 0.3.64's, node by node.

Used by test_object_info_parity.py, and by hand while porting nodes:

    PYTHONPATH=$PWD python -m tests.nodes.object_info_diff              # coverage + every differing node
    PYTHONPATH=$PWD python -m tests.nodes.object_info_diff KSampler VAEDecode   # just these nodes
    PYTHONPATH=$PWD python -m tests.nodes.object_info_diff --prune      # drop now-matching nodes from the list

Compared: category, output_node, outputs (types, names, is_list), the required and optional inputs (names,
sections, input_order, types, combo options and their order, default/min/max/step/round and every other
widget option). Not compared: tooltips and descriptions (absent from the reference), display names,
python_module, hidden inputs (ComfyUI passes server data through them; Loom through the execution
context), and the options of file-name combos (they list the server's folders).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "comfy_object_info.json"
NOT_YET = DATA / "not_yet_implemented.txt"
COMPARED_SECTIONS = ("required", "optional")
# "model_folder" is Loom's note on a model-file combo (its validation names the folder to put the file in).
IGNORED_OPTIONS = {"tooltip", "model_folder"}
# V3 nodes spell a false flag out ("multiline": false); V1 nodes and Loom leave it out. Same meaning.
FALSE_MEANS_ABSENT = {"multiline", "multiselect", "forceInput", "lazy", "rawLink"}


def load_reference() -> dict[str, Any]:
    """{"nodes": {name: object_info entry}, "file_name_inputs": {name: [input, ...]}}."""
    return json.loads(REFERENCE.read_text())


def not_yet_implemented() -> list[str]:
    """Nodes listed as missing or still differing (one per line, '#' comments)."""
    lines = (line.split("#", 1)[0].strip() for line in NOT_YET.read_text().splitlines())
    return [line for line in lines if line]


def served_object_info() -> dict[str, Any]:
    """GET /object_info from a real Loom app with every core node, on empty folders."""
    return asyncio.run(_fetch_object_info())


async def _fetch_object_info() -> dict[str, Any]:
    from aiohttp.test_utils import TestClient, TestServer

    from engine.graph.cache import CachePolicy
    from engine.graph.context import Services
    from engine.graph.executor import Executor
    from engine.graph.registry import build_default_registry
    from engine.paths import Folders
    from engine.queue import PromptQueue
    from web.app import create_app
    from web.state import ServerConfig

    with tempfile.TemporaryDirectory() as root:
        folders = Folders(Path(root))
        registry, _ = build_default_registry(Services(folders=folders))
        queue = PromptQueue(folders.user_dir / "queue.sqlite3")
        app = create_app(ServerConfig(folders=folders), registry, Executor(registry, cache=CachePolicy.classic()),
                         queue)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        try:
            response = await client.get("/object_info")
            return await response.json()
        finally:
            await client.close()


def _normalized(spec: list) -> tuple[str, list | None, dict]:
    """(type, combo options or None, widget options) of one input, whichever way it is spelled:
    ["INT", {...}], [["a", "b"], {...}] (V1 combo) or ["COMBO", {"options": [...]}] (V3 combo)."""
    kind, options = spec[0], dict(spec[1]) if len(spec) > 1 and isinstance(spec[1], dict) else {}
    choices = None
    if isinstance(kind, list):
        kind, choices = "COMBO", list(kind)
    elif kind == "COMBO":
        choices = list(options.pop("options", []))
    for key in IGNORED_OPTIONS:
        options.pop(key, None)
    for key in FALSE_MEANS_ABSENT:
        if options.get(key) is False:
            del options[key]
    return kind, choices, options


def _same(value: Any, ref: Any) -> bool:
    """JSON equality as the canvas sees it: 1 == 1.0, but true is not 1."""
    return isinstance(value, bool) == isinstance(ref, bool) and value == ref


def _input_differences(node: str, name: str, ref: list, loom: list, file_name: bool) -> list[str]:
    ref_kind, ref_choices, ref_opts = _normalized(ref)
    kind, choices, opts = _normalized(loom)
    found = []
    if kind != ref_kind:
        found.append(f"{node}.{name}: type {kind!r}, ComfyUI {ref_kind!r}")
    if not file_name and choices != ref_choices:
        found.append(f"{node}.{name}: options {choices}, ComfyUI {ref_choices}")
    for key in sorted(set(ref_opts) | set(opts)):
        if key not in opts:
            found.append(f"{node}.{name}: missing {key}={ref_opts[key]!r}")
        elif key not in ref_opts:
            found.append(f"{node}.{name}: extra {key}={opts[key]!r} (ComfyUI has none)")
        elif not _same(opts[key], ref_opts[key]):
            found.append(f"{node}.{name}: {key}={opts[key]!r}, ComfyUI {ref_opts[key]!r}")
    return found


def differences(node: str, ref: dict, loom: dict | None, file_name_inputs: list[str] = ()) -> list[str]:
    """Every way Loom's entry for `node` differs from ComfyUI's; [] when they match."""
    if loom is None:
        return [f"{node}: not served by Loom"]
    found = []
    for key in ("category", "output_node", "output", "output_name", "output_is_list"):
        if loom.get(key) != ref.get(key):
            found.append(f"{node}: {key} {loom.get(key)!r}, ComfyUI {ref.get(key)!r}")
    ref_inputs = {s: ref["input"].get(s, {}) for s in COMPARED_SECTIONS}
    inputs = {s: loom.get("input", {}).get(s, {}) for s in COMPARED_SECTIONS}
    for section in COMPARED_SECTIONS:
        ref_order = ref.get("input_order", {}).get(section, [])
        order = loom.get("input_order", {}).get(section, [])
        if order != ref_order:
            found.append(f"{node}: input_order[{section}] {order}, ComfyUI {ref_order}")
        other = "optional" if section == "required" else "required"
        for name, spec in ref_inputs[section].items():
            if name in inputs[section]:
                found += _input_differences(node, name, spec, inputs[section][name], name in file_name_inputs)
            elif name in inputs[other]:
                found.append(f"{node}.{name}: {other} in Loom, {section} in ComfyUI")
            else:
                found.append(f"{node}.{name}: missing ({section} {spec!r})")
        for name in inputs[section]:
            if name not in ref_inputs[section] and name not in ref_inputs[other]:
                found.append(f"{node}.{name}: extra {section} input (ComfyUI has none)")
    return found


def report(names: list[str]) -> int:
    """Print coverage and the differences of `names` (all in-scope nodes when empty); 1 if any differ."""
    reference = load_reference()
    served = served_object_info()
    ref_nodes, file_inputs = reference["nodes"], reference["file_name_inputs"]
    unknown = [n for n in names if n not in ref_nodes]
    if unknown:
        print(f"not in-scope ComfyUI nodes: {unknown}")
    checked = [n for n in names if n in ref_nodes] or list(ref_nodes)
    present = sum(n in served for n in ref_nodes)
    matching = [n for n in ref_nodes if not differences(n, ref_nodes[n], served.get(n), file_inputs.get(n, []))]
    print(f"served {present}/{len(ref_nodes)} in-scope nodes; {len(matching)} match ComfyUI exactly")
    listed = set(not_yet_implemented())
    for name in checked:
        found = differences(name, ref_nodes[name], served.get(name), file_inputs.get(name, []))
        note = " (listed in not_yet_implemented.txt)" if name in listed else ""
        if found:
            print(f"\n{name}{note}:\n  " + "\n  ".join(found))
        elif name in listed:
            print(f"\n{name}: matches; remove it from not_yet_implemented.txt")
    return 1 if any(differences(n, ref_nodes[n], served.get(n), file_inputs.get(n, [])) for n in checked) else 0


def prune() -> None:
    """Rewrite not_yet_implemented.txt without the nodes that now match (comments kept)."""
    reference, served = load_reference(), served_object_info()
    ref_nodes, file_inputs = reference["nodes"], reference["file_name_inputs"]
    matching = {n for n in ref_nodes if not differences(n, ref_nodes[n], served.get(n), file_inputs.get(n, []))}
    lines = NOT_YET.read_text().splitlines()
    kept = [line for line in lines if line.split("#", 1)[0].strip() not in matching]
    NOT_YET.write_text("\n".join(kept) + "\n")
    print(f"removed {len(lines) - len(kept)} now-matching nodes; {len(not_yet_implemented())} left")


if __name__ == "__main__":
    if sys.argv[1:] == ["--prune"]:
        prune()
    else:
        sys.exit(report(sys.argv[1:]))
