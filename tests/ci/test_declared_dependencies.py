"""Every third-party package the tests import is declared in pyproject.toml (the main dependencies or an
extra), so that `pip install -e '.[test,ray,comfyui-frontend]'` is all a fresh machine needs."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    return {normalise(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# Installed by .ci/run without its declared dependencies; the reason is written beside the test extra.
NO_DEPS_INSTALLS = {"k_diffusion": "pip install -q --no-deps k-diffusion=="}
BY_NAME = ("find_spec", "importorskip", "import_module", "need_module")


def _names(node: ast.AST) -> list[str]:
    """Modules `node` imports: import statements, and calls that import a module named by a string."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.module and not node.level else []
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in BY_NAME and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def imported_modules() -> dict[str, str]:
    """Top-level module -> a test file importing it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _names(node):
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_third_party_module_the_tests_import_is_declared():
    distributions = importlib.metadata.packages_distributions()
    own = normalise(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["name"])
    undeclared = {}
    for module, where in imported_modules().items():
        if module in sys.stdlib_module_names or module not in distributions:  # stdlib, or Loom's own code
            continue
        if module in NO_DEPS_INSTALLS:
            assert NO_DEPS_INSTALLS[module] in (ROOT / ".ci" / "run").read_text(), module
            continue
        names = {normalise(d) for d in distributions[module]}
        if own not in names and not names & declared():
            undeclared[module] = (distributions[module], where)
    assert not undeclared, undeclared
