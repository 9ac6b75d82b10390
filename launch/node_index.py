"""nodes/index.json: which core module defines each core node, so that a headless run imports only the
modules its workflow uses (engine/graph/on_demand_registry.py). A test keeps it true; after adding or
renaming a core node, rewrite it with `python -m launch.node_index`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from engine.graph.registry import CORE, NodeRegistry, core_modules

INDEX = Path(__file__).resolve().parents[1] / "nodes" / "index.json"


def read_index(path: Path = INDEX) -> dict[str, str]:
    """Node name -> core module, or {} when the file is missing or unreadable (then everything loads)."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def build_index() -> dict[str, str]:
    """Import every core module and record the names each one registers (first registration wins)."""
    registry, index = NodeRegistry(), {}
    for module_name in core_modules():
        for name in registry.register_module(importlib.import_module(module_name), CORE).nodes:
            index[name] = module_name
    return dict(sorted(index.items()))


def main() -> None:
    INDEX.write_text(json.dumps(build_index(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {INDEX}")


if __name__ == "__main__":
    main()
