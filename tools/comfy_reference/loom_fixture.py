"""Shared start of the reference scripts that run ComfyUI on Loom's tiny fixture weights: ComfyUI's
checkout importable and on the CPU, and a Loom fixture module loaded by its path (ComfyUI has a `tests`
package of its own, so Loom's cannot be imported by name)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def comfy_on_cpu(comfy_path: str) -> None:
    sys.path.insert(0, comfy_path)
    from comfy.cli_args import args

    args.cpu = True


def load_fixture(name: str) -> ModuleType:
    """tests/fixtures/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "fixtures" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def use_loom_tests() -> None:
    """Make `tests` Loom's test package (a namespace package, which any regular `tests` package on the
    path would otherwise shadow), with the repository importable for the fixtures' own imports."""
    sys.path.insert(0, str(REPO))
    for name in [m for m in sys.modules if m == "tests" or m.startswith("tests.")]:
        del sys.modules[name]
    spec = importlib.machinery.PathFinder.find_spec("tests", [str(REPO)])
    sys.modules["tests"] = importlib.util.module_from_spec(spec)
