"""The one node registry: native and V1 classes by class_type, `/object_info` generated from their specs."""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from engine.graph.comfy_v1 import V1Definition
from engine.graph.context import Services
from engine.graph.entrypoint import extension_nodes
from engine.graph.native import definition_of
from engine.graph.spec import NodeDefinition
from engine.graph.validation_memo import ValidationMemo

CORE = "core"


@dataclass
class Registration:
    """What registering one module did: node names added, clashes refused, classes that failed."""

    nodes: list[str] = field(default_factory=list)
    clashes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class NodeRegistry:
    """class_type -> NodeDefinition. First registration wins; core nodes cannot be replaced."""

    def __init__(self, services: Services | None = None):
        self.services = services or Services()
        self._defs: dict[str, NodeDefinition] = {}
        self._sources: dict[str, str] = {}
        #: per-node verdicts of earlier prompts, reused by validation for nodes submitted again unchanged
        self.validation_memo = ValidationMemo()

    def __contains__(self, class_type: str) -> bool:
        return class_type in self._defs

    def __len__(self) -> int:
        return len(self._defs)

    def names(self) -> list[str]:
        return list(self._defs)

    def get(self, class_type: str) -> NodeDefinition:
        try:
            return self._defs[class_type]
        except KeyError:
            raise KeyError(f"unknown node type {class_type!r}") from None

    def source_of(self, class_type: str) -> str:
        """"core" or "custom_nodes.<pack>"."""
        return self._sources[class_type]

    def add(self, definition: NodeDefinition, source: str, into: Registration | None = None) -> bool:
        """Register one definition under its spec name; False (and a clash note) when the name is taken."""
        name = definition.spec.name
        into = into if into is not None else Registration()
        existing = self._defs.get(name)
        if existing is not None:
            if existing.cls is not definition.cls:
                why = "core nodes cannot be replaced" if self._sources[name] == CORE else "first registration wins"
                into.clashes.append(f"{name}: already registered by {self._sources[name]} ({why}); "
                                    f"{source} version ignored")
            return False
        self._defs[name] = definition
        self._sources[name] = source
        into.nodes.append(name)
        return True

    def register(self, cls: type, name: str | None = None, source: str = CORE,
                 display_name: str | None = None) -> Registration:
        """Register one class (native `@node` or V1) under `name` (default: its own name)."""
        report = Registration()
        module = source if source != CORE else cls.__module__
        native = definition_of(cls)
        try:
            if native is not None:
                primary = name or native.spec.name
                self.add(native.bind(primary, module), source, report)
                for alias in [] if name else native.aliases:
                    self.add(native.bind(alias, module, alias_of=primary), source, report)
            elif callable(getattr(cls, "loom_definition", None)):  # another protocol's adapter (ComfyUI V3)
                self.add(cls.loom_definition(name, module, display_name), source, report)
            else:
                self.add(V1Definition(cls, name or cls.__name__, module, display_name), source, report)
        except Exception as exc:  # noqa: BLE001 - a broken class must not stop its module's other nodes
            report.errors.append(f"{name or cls.__name__}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        return report

    def register_module(self, module: ModuleType, source: str = CORE) -> Registration:
        """Register every `@node` class found in `module` and its NODE_CLASS_MAPPINGS."""
        report = Registration()
        for value in list(vars(module).values()):
            if definition_of(value) is not None:
                _merge(report, self.register(value, source=source))
        display = getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None) or {}
        mappings = getattr(module, "NODE_CLASS_MAPPINGS", None)
        for name, cls in (mappings or {}).items():
            _merge(report, self.register(cls, name=name, source=source, display_name=display.get(name)))
        if mappings is None and hasattr(module, "comfy_entrypoint"):
            try:
                classes = extension_nodes(module.comfy_entrypoint)
            except Exception as exc:  # noqa: BLE001 - reported like a broken class
                report.errors.append(f"comfy_entrypoint: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
                classes = []
            for cls in classes:
                _merge(report, self.register(cls, source=source))
        return report

    def object_info(self) -> dict[str, dict[str, Any]]:
        """Every node's `/object_info` entry; combo options are computed now (folders may have changed)."""
        info = {}
        for name in self._defs:
            try:
                info[name] = self.object_info_for(name)
            except Exception:  # noqa: BLE001 - one broken INPUT_TYPES must not hide every other node
                traceback.print_exc()
        return info

    def object_info_for(self, class_type: str) -> dict[str, Any]:
        """One node's `/object_info` entry; KeyError when unknown."""
        return self.get(class_type).object_info(self.services)


def _merge(into: Registration, part: Registration) -> None:
    into.nodes += part.nodes
    into.clashes += part.clashes
    into.errors += part.errors


def core_modules(package: str = "nodes") -> Iterable[str]:
    """Names of every module of the core node package."""
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        yield info.name


def build_default_registry(services: Services | None = None, custom_node_dirs: Iterable[str | Path] = (),
                           pack_host: Any = None) -> tuple[NodeRegistry, Any]:
    """Registry with every core node module, then every pack in `custom_node_dirs` (importing from
    `pack_host`'s modules, see packs.PackHost); returns (registry, PackReport)."""
    registry = NodeRegistry(services)
    return registry, fill_registry(registry, custom_node_dirs, pack_host)


def fill_registry(registry: NodeRegistry, custom_node_dirs: Iterable[str | Path] = (), pack_host: Any = None,
                  report: Any = None, registered: Iterable[str] = ()) -> Any:
    """Register every core node module into `registry` (but those in `registered`), then every pack;
    returns the PackReport."""
    from engine.graph.packs import PackReport, load_packs

    report = report if report is not None else PackReport()
    try:
        module_names = list(core_modules())
    except Exception:  # noqa: BLE001 - reported in the PackReport
        report.core_errors.append(f"nodes: {traceback.format_exc()}")
        module_names = []
    for module_name in sorted(set(module_names) - set(registered), key=module_names.index):
        register_core_module(registry, module_name, report)
    load_packs(registry, custom_node_dirs, report, pack_host)
    return report


def register_core_module(registry: NodeRegistry, module_name: str, report: Any) -> None:
    """Import one core node module and register its nodes; what fails goes into report.core_errors."""
    try:
        registration = registry.register_module(importlib.import_module(module_name), CORE)
    except Exception:  # noqa: BLE001 - reported in the PackReport
        report.core_errors.append(f"{module_name}: {traceback.format_exc()}")
        return
    report.core_errors += registration.errors
    report.clashes += registration.clashes
