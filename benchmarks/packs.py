"""Node packs on Loom and on a ComfyUI server: node counts per pack, and a small prompt per node.

    python benchmarks/packs.py PACKS_DIR --comfy-url http://127.0.0.1:8188 [--input-dir COMFY/input] [--max-per-pack N]

The packs in PACKS_DIR are loaded in this process by Loom's pack loader (with Loom's comfy_compat layer);
the ComfyUI server must have the same packs in its custom_nodes. For every pack node whose required inputs
can be built (widgets take their defaults, a combo its first option, IMAGE / MASK / LATENT come from
EmptyImage / SolidMask / EmptyLatentImage), one prompt runs the node (feeding its first output to
PreviewAny unless it is an output node) on both, and the table counts where both succeed, where only one
does, and where both fail. Prints the table; nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

SIZE = 64
BUILT_INPUTS = {  # socket type -> (class_type, inputs) of a core node producing it
    "IMAGE": ("EmptyImage", {"width": SIZE, "height": SIZE, "batch_size": 1, "color": 0x808080}),
    "MASK": ("SolidMask", {"value": 1.0, "width": SIZE, "height": SIZE}),
    "LATENT": ("EmptyLatentImage", {"width": SIZE, "height": SIZE, "batch_size": 1}),
}
WIDGETS = {"INT", "FLOAT", "STRING", "BOOLEAN"}


def _json(url: str, body: dict | None = None, timeout: float = 30.0) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def build_prompt(class_type: str, info: dict) -> dict | None:
    """A prompt running `class_type` from ComfyUI's object_info entry; None when an input cannot be built."""
    prompt, inputs = {}, {}
    for name, spec in info["input"].get("required", {}).items():
        kind, options = spec[0], (spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {})
        if isinstance(kind, list):
            if not kind:
                return None
            inputs[name] = kind[0]
        elif kind == "COMBO":
            choices = options.get("options") or []
            if not choices:
                return None
            inputs[name] = choices[0]
        elif kind in WIDGETS:
            default = options.get("default", {"INT": 0, "FLOAT": 0.0, "STRING": "", "BOOLEAN": False}[kind])
            inputs[name] = default
        elif kind in BUILT_INPUTS:
            source, source_inputs = BUILT_INPUTS[kind]
            node_id = str(len(prompt) + 2)
            prompt[node_id] = {"class_type": source, "inputs": dict(source_inputs)}
            inputs[name] = [node_id, 0]
        else:
            return None
    prompt["1"] = {"class_type": class_type, "inputs": inputs}
    if not info.get("output_node"):
        if not info.get("output"):
            return None
        prompt["0"] = {"class_type": "PreviewAny", "inputs": {"source": ["1", 0]}}
    return prompt


def run_on_comfy(url: str, prompt: dict, timeout: float) -> bool:
    """Whether ComfyUI runs the prompt to success (an unfinished run is interrupted and counts as failed)."""
    try:
        prompt_id = _json(f"{url}/prompt", {"prompt": prompt, "client_id": "loom-bench"})["prompt_id"]
    except OSError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = _json(f"{url}/history/{prompt_id}").get(prompt_id)
        if entry and entry.get("status", {}).get("completed") is not None:
            return entry["status"].get("status_str") == "success"
        time.sleep(0.05)
    _json(f"{url}/interrupt", {})
    return False


def run_on_loom(executor, prompt: dict, timeout: float) -> tuple[bool, str]:
    """(success, the error's message) of the prompt on Loom."""
    from engine.graph.context import Interrupt

    interrupt = Interrupt()
    timer = threading.Timer(timeout, interrupt.set)
    timer.start()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = executor.run(prompt, interrupt=interrupt)
    except Exception as exc:  # noqa: BLE001 - a pack node that breaks the run counts as a failure
        return False, f"{type(exc).__name__}: {exc}"
    finally:
        timer.cancel()
    error = result.error or result.node_errors or ""
    message = error.get("exception_message", error) if isinstance(error, dict) else error
    return result.status == "success", str(message)[:200]


def load_on_loom(packs_dir: Path, base: Path, input_dir: Path | None = None):
    """(registry, PackReport) with the packs of `packs_dir` loaded the way Loom's server loads them."""
    import comfy_compat
    from engine.graph.context import Services
    from engine.graph.registry import build_default_registry
    from engine.memory import ModelManager
    from engine.paths import Folders

    folders = Folders(base)
    folders.ensure()
    if input_dir is not None:  # the same input files as the ComfyUI server (image loaders' combos)
        shutil.copytree(input_dir, folders.input_dir, dirs_exist_ok=True)
    with contextlib.redirect_stdout(sys.stderr):
        return build_default_registry(Services(folders=folders, models=ModelManager(device="cpu")), [packs_dir],
                                      pack_host=comfy_compat)


def compare(packs_dir: Path, comfy_url: str, max_per_pack: int, timeout: float, only: list[str],
            input_dir: Path | None = None) -> list[dict]:
    from engine.graph.executor import Executor

    comfy_info = _json(f"{comfy_url}/object_info", timeout=120)
    with tempfile.TemporaryDirectory() as base:
        registry, report = load_on_loom(packs_dir, Path(base), input_dir)
        executor = Executor(registry)
        rows = []
        for pack in sorted(report.packs, key=lambda p: p.name.lower()):
            if only and pack.name not in only:
                continue
            module = f"custom_nodes.{pack.name}"
            comfy_nodes = sorted(n for n, i in comfy_info.items() if i.get("python_module") == module)
            outcome: Counter = Counter()
            differs = []
            for class_type in comfy_nodes:
                prompt = build_prompt(class_type, comfy_info[class_type])
                if prompt is None or class_type not in registry or outcome["run"] >= max_per_pack:
                    continue
                outcome["run"] += 1
                (loom_ok, loom_error), comfy_ok = run_on_loom(executor, prompt, timeout), run_on_comfy(
                    comfy_url, prompt, timeout)
                outcome[(loom_ok, comfy_ok)] += 1
                if loom_ok != comfy_ok:
                    differs.append({"node": class_type, "loom_ok": loom_ok, "comfy_ok": comfy_ok,
                                    "loom_error": loom_error})
            rows.append({"pack": pack.name, "loads": pack.ok, "comfy_nodes": len(comfy_nodes),
                         "loom_nodes": len(pack.nodes), "run": outcome["run"], "both_ok": outcome[(True, True)],
                         "loom_only_fails": outcome[(False, True)], "comfy_only_fails": outcome[(True, False)],
                         "both_fail": outcome[(False, False)], "differs": differs})
    return rows


def print_table(rows: list[dict]) -> None:
    columns = ["pack", "loads", "comfy_nodes", "loom_nodes", "run", "both_ok", "loom_only_fails",
               "comfy_only_fails", "both_fail"]
    width = max(len(r["pack"]) for r in rows) if rows else 4
    print(f"{'pack':{width}}  " + "  ".join(f"{c:>{len(c)}}" for c in columns[1:]))
    for row in rows:
        cells = ["yes" if row["loads"] else "NO", *(str(row[c]) for c in columns[2:])]
        print(f"{row['pack']:{width}}  " + "  ".join(f"{v:>{len(c)}}" for v, c in zip(cells, columns[1:])))
    loaded = sum(r["loads"] for r in rows)
    full = sum(r["loads"] and r["loom_nodes"] >= r["comfy_nodes"] for r in rows)
    for row in rows:
        for diff in row["differs"]:
            side = "Loom" if not diff["loom_ok"] else "ComfyUI"
            print(f"  {row['pack']}: {diff['node']} fails only on {side} {diff['loom_error']}")
    print(f"\n{loaded} of {len(rows)} packs load on Loom; {full} register every node ComfyUI registers; "
          f"{sum(r['loom_nodes'] for r in rows)} of {sum(r['comfy_nodes'] for r in rows)} nodes; "
          f"{sum(r['both_ok'] for r in rows)} of {sum(r['run'] for r in rows)} node prompts succeed on both")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("packs_dir", type=Path)
    parser.add_argument("--comfy-url", default="http://127.0.0.1:8188")
    parser.add_argument("--max-per-pack", type=int, default=20, help="node prompts per pack (default 20)")
    parser.add_argument("--input-dir", type=Path, help="the ComfyUI server's input folder, copied to Loom's")
    parser.add_argument("--only", action="append", default=[], metavar="PACK", help="only these packs (repeatable)")
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per node prompt (default 20)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    rows = compare(args.packs_dir.resolve(), args.comfy_url.rstrip("/"), args.max_per_pack, args.timeout, args.only,
                   args.input_dir)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
