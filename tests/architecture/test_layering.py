"""Imports point one way: engine/ is the core every other package builds on, so it never imports the web
server, the nodes, the start-up wiring or the ComfyUI compatibility layer (and engine/graph never imports
torch, so the graph runs without it). A violation fails here with the file, line and imported module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ABOVE_ENGINE = ("web", "nodes", "launch", "comfy_compat")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import statement in the file, including those inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, module in imported_modules(path):
            if module.split(".")[0] in forbidden:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return out


def test_engine_imports_nothing_built_on_top_of_it():
    assert violations("engine", ABOVE_ENGINE) == []


def test_graph_core_runs_without_torch():
    assert violations("engine/graph", ("torch",)) == []


@pytest.mark.parametrize("source, expected", [
    ("import web.serve\n", ["web.serve"]),
    ("def f():\n    from nodes.latents import X\n", ["nodes.latents"]),
    ("from . import sibling\nfrom engine.memory import M\n", ["engine.memory"]),
])
def test_the_scan_sees_top_level_and_function_local_imports(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert [module for _, module in imported_modules(path)] == expected
