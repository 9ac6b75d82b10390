"""Static scan of a node pack's sources for the ComfyUI names it uses (`comfy.X.Y`, `from comfy.X import
Y`, `nodes.Y`, `folder_paths.Z`, ...), and which of them Loom's compatibility layer lacks.

`packs check` prints the result, so users know before they try a pack which names will fail; nothing of
the pack is imported here (the names are resolved against Loom's own modules).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path

from comfy_compat import EMULATED
from comfy_compat.other_families import UNAVAILABLE

COMFY_TOPS = frozenset({*EMULATED, "nodes"})
SKIPPED_FOLDERS = frozenset({".git", "__pycache__", "node_modules", "tests", "test", "venv", ".venv"})


def _sources(pack: Path) -> Iterator[Path]:
    if pack.is_file():
        yield pack
        return
    for path in sorted(pack.rglob("*.py")):
        if not SKIPPED_FOLDERS.intersection(path.relative_to(pack).parts[:-1]):
            yield path


def _chain(node: ast.expr) -> list[str] | None:
    """['comfy', 'samplers', 'KSampler'] for `comfy.samplers.KSampler`; None when not a name chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


class _Collector(ast.NodeVisitor):
    """Dotted ComfyUI names used in one file, with their line numbers."""

    def __init__(self) -> None:
        self.bound: dict[str, str] = {}  # local name -> the ComfyUI name it stands for
        self.used: dict[str, int] = {}
        self.assigned: set[str] = set()  # ComfyUI names the pack sets itself (monkey-patching)

    def _use(self, name: str, line: int) -> None:
        self.used.setdefault(name, line)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.split(".")[0] in COMFY_TOPS:
                self._use(alias.name, node.lineno)
                local = alias.asname or alias.name.split(".")[0]
                self.bound[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module or node.module.split(".")[0] not in COMFY_TOPS:
            return
        for alias in node.names:
            if alias.name != "*":
                self._use(f"{node.module}.{alias.name}", node.lineno)
                self.bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            chain = _chain(target)
            if chain and chain[0] in self.bound:
                self.assigned.add(".".join([self.bound[chain[0]], *chain[1:]]))
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        chain = _chain(node)
        if chain and chain[0] in self.bound:
            self._use(".".join([self.bound[chain[0]], *chain[1:]]), node.lineno)
            return  # the longest chain only
        self.generic_visit(node)


def referenced_names(pack: Path) -> dict[str, str]:
    """ComfyUI name -> first place it is used ("file.py:line", relative to the pack)."""
    found: dict[str, str] = {}
    for path in _sources(pack):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
        except (SyntaxError, ValueError):
            continue
        collector = _Collector()
        collector.visit(tree)
        where = path.relative_to(pack.parent if pack.is_file() else pack)
        for name, line in collector.used.items():
            if not any(name == a or name.startswith(a + ".") for a in collector.assigned):
                found.setdefault(name, f"{where}:{line}")
    return found


def _unavailable(value: object) -> bool:
    return bool(getattr(value, "__dict__", {}).get(UNAVAILABLE))


def provides(name: str) -> bool:
    """Whether importing the longest module prefix of `name` and reading the rest as attributes works
    on Loom (the compatibility layer must be installed), with no stand-in on the way (a stand-in
    raises NotImplementedError when used)."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        except Exception:  # noqa: BLE001 - a module that fails to import lacks every name
            return False
        break
    else:
        return False
    for attribute in parts[cut:]:
        if _unavailable(value):
            return False
        try:
            value = getattr(value, attribute)
        except Exception:  # noqa: BLE001 - AttributeError, or a lazy attribute that cannot be built
            return False
    return not _unavailable(value)


def missing_names(pack: Path) -> dict[str, str]:
    """The ComfyUI names `pack` uses that Loom lacks -> where each is first used."""
    return {name: where for name, where in sorted(referenced_names(pack).items()) if not provides(name)}
