"""Custom node pack loader: every package or .py in custom_nodes/ imported on its own, failures reported.

A pack that fails to import is recorded with its traceback and never stops the others or the startup.
The modules packs import (ComfyUI's folder_paths, comfy.*, server, ...) come from a PackHost that the
start-up wiring hands in (the top-level comfy_compat package): engine/ never imports that layer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import runpy
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from engine.graph.registry import NodeRegistry

PRESTARTUP = "prestartup_script.py"


class PackHost(Protocol):
    """What the start-up wiring lends the loader: the environment packs import from."""

    def install(self, registry: NodeRegistry, pack_dirs: Sequence[Path] = ()) -> object:
        """Make the modules packs import available, bound to `registry` and the pack folders."""

    def missing_module_hint(self, exc: BaseException) -> str | None:
        """A line explaining a failed import of a module the host does not provide, else None."""


@dataclass
class PackResult:
    """One pack's import outcome."""

    name: str
    path: Path
    module: str
    seconds: float
    error: str | None = None
    nodes: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)
    node_errors: list[str] = field(default_factory=list)  # nodes rejected while the rest registered
    web_directory: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class PackReport:
    """All packs, plus problems with the core node modules and name clashes."""

    packs: list[PackResult] = field(default_factory=list)
    prestartup: list[PackResult] = field(default_factory=list)  # prestartup_script.py runs
    core_errors: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[PackResult]:
        return [p for p in self.packs if not p.ok]

    @property
    def prestartup_failed(self) -> list[PackResult]:
        return [p for p in self.prestartup if not p.ok]

    def web_directories(self) -> dict[str, Path]:
        """pack folder name (as on disk) -> its folder of JS extensions, served at /extensions/<name>/."""
        return {p.name: p.web_directory for p in self.packs if p.ok and p.web_directory is not None}

    def summary(self) -> str:
        """Prestartup and import times, slowest first, with FAILED markers, then clashes."""
        lines = ["Prestartup times for custom nodes:"] if self.prestartup else []
        for run in sorted(self.prestartup, key=lambda p: -p.seconds):
            lines.append(f"{run.seconds:8.3f} s{' (PRESTARTUP FAILED)' if not run.ok else ''}: {run.path}")
        lines += ["Import times for custom nodes:"] if self.packs else []
        for pack in sorted(self.packs, key=lambda p: -p.seconds):
            failed = " (IMPORT FAILED)" if not pack.ok else ""
            rejected = f" ({len(pack.node_errors)} nodes rejected)" if pack.ok and pack.node_errors else ""
            lines.append(f"{pack.seconds:8.3f} s{failed}{rejected}: {pack.path}")
        lines += [f"name clash: {c}" for c in self.clashes]
        lines += [f"core node error: {e.splitlines()[0]}" for e in self.core_errors]
        return "\n".join(lines)


def pack_entries(directory: Path) -> list[Path]:
    """Packs in one folder: packages with __init__.py and .py files, minus .disabled and __pycache__."""
    if not directory.is_dir():
        return []
    entries = []
    for path in sorted(directory.iterdir()):
        if path.name == "__pycache__" or path.name.endswith(".disabled") or path.name.startswith("."):
            continue
        if (path.is_dir() and (path / "__init__.py").is_file()) or (path.is_file() and path.suffix == ".py"):
            entries.append(path)
    return entries


def _entry_file(path: Path) -> Path:
    return (path / "__init__.py" if path.is_dir() else path).resolve()


def _module_name(path: Path) -> str:
    """"custom_nodes.<pack>", made unique when another folder already loaded a pack of that name."""
    name = "custom_nodes." + (path.stem if path.is_file() else path.name).replace(".", "_").replace("-", "_")
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() != _entry_file(path):
        name += "_" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]
    return name


def _import(path: Path, module_name: str):
    init = _entry_file(path)
    locations = [str(path)] if path.is_dir() else None
    spec = importlib.util.spec_from_file_location(module_name, init, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def run_prestartup(path: Path) -> PackResult:
    """Run a pack's prestartup_script.py (as ComfyUI does, before any pack imports), timed; failures reported."""
    script = path / PRESTARTUP
    result = PackResult(name=path.name, path=script, module=f"{path.name}.prestartup", seconds=0.0)
    start = time.perf_counter()
    try:
        runpy.run_path(str(script), run_name=f"custom_nodes.{path.name}.prestartup_script")
    except Exception:  # noqa: BLE001 - reported, never fatal
        result.error = traceback.format_exc()
    result.seconds = time.perf_counter() - start
    return result


def load_pack(registry: NodeRegistry, path: Path, host: PackHost | None = None) -> PackResult:
    """Import one pack and register its nodes under source "custom_nodes.<pack>"."""
    module_name = _module_name(path)
    start = time.perf_counter()
    result = PackResult(name=path.stem if path.is_file() else path.name, path=path, module=module_name, seconds=0.0)
    try:
        module = _import(path, module_name)
        registration = registry.register_module(module, source=module_name)
    except Exception as exc:  # noqa: BLE001 - a broken pack is reported, never fatal
        result.error = traceback.format_exc()
        hint = host.missing_module_hint(exc) if host is not None else None
        if hint:
            result.error += hint + "\n"
    else:
        result.nodes, result.clashes = registration.nodes, registration.clashes
        if registration.errors and registration.nodes:
            result.node_errors = registration.errors  # the pack loads; those nodes are reported
        elif registration.errors:
            result.error = "\n".join(registration.errors)
        web = getattr(module, "WEB_DIRECTORY", None)
        if web and path.is_dir() and (path / web).is_dir():
            result.web_directory = (path / web).resolve()
    result.seconds = time.perf_counter() - start
    return result


def load_packs(registry: NodeRegistry, directories: Iterable[str | Path],
               report: PackReport | None = None, host: PackHost | None = None) -> PackReport:
    """Load every pack found in `directories`, each in its own try block, after `host` installed the
    modules packs import and every pack's prestartup_script.py ran."""
    report = report if report is not None else PackReport()
    directories = [Path(directory) for directory in directories]
    entries = [path for directory in directories for path in pack_entries(directory)]
    if entries and host is not None:
        host.install(registry, directories)
    for path in entries:
        if path.is_dir() and (path / PRESTARTUP).is_file():
            report.prestartup.append(run_prestartup(path))
    for path in entries:
        result = load_pack(registry, path, host)
        report.packs.append(result)
        report.clashes += result.clashes
    return report
