"""A node registry that imports a core node module the first time one of its nodes is asked for.

A headless run needs the few nodes its workflow names, not the 65 core modules and every pack (and torch,
which most of them import): with an index of which module defines which node (nodes/index.json, kept
true by a test), `main.py run` imports only those. A name the index does not know (a pack's node, a
typo), or anything that needs every node (/object_info, "did you mean"), loads everything, core first,
then packs, exactly as the full registry does.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from engine.graph.context import Services
from engine.graph.registry import NodeRegistry, fill_registry, register_core_module
from engine.graph.spec import NodeDefinition


class OnDemandRegistry(NodeRegistry):
    """NodeRegistry over `index` (node name -> core module); `report` (a PackReport) collects what failed
    in the modules and packs loaded so far."""

    def __init__(self, services: Services | None, index: dict[str, str], report: Any,
                 custom_node_dirs: Iterable[str | Path] = (), pack_host: Any = None):
        super().__init__(services)
        self.report = report
        self._index = index
        self._custom_node_dirs, self._pack_host = list(custom_node_dirs), pack_host
        self._modules: set[str] = set()
        self._complete = False

    def _load_for(self, class_type: str) -> None:
        if self._complete or super().__contains__(class_type):
            return
        module = self._index.get(class_type)
        if module is None or module in self._modules:  # not a core node, or its module no longer has it
            self.load_everything()
            return
        self._modules.add(module)
        register_core_module(self, module, self.report)

    def load_everything(self) -> None:
        """Register the core modules not loaded yet, then the packs (once)."""
        if not self._complete:
            self._complete = True
            fill_registry(self, self._custom_node_dirs, self._pack_host, self.report, registered=self._modules)

    def __contains__(self, class_type: str) -> bool:
        self._load_for(class_type)
        return super().__contains__(class_type)

    def get(self, class_type: str) -> NodeDefinition:
        self._load_for(class_type)
        return super().get(class_type)

    def source_of(self, class_type: str) -> str:
        self._load_for(class_type)
        return super().source_of(class_type)

    def __len__(self) -> int:
        self.load_everything()
        return super().__len__()

    def names(self) -> list[str]:
        self.load_everything()
        return super().names()

    def object_info(self) -> dict[str, dict[str, Any]]:
        self.load_everything()
        return super().object_info()
