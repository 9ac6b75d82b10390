"""ComfyUI's `nodes` module, as far as packs read it: NODE_CLASS_MAPPINGS and friends, from Loom's registry.

Loom's own core node package is also named `nodes`, so the name cannot be a shim: nodes/__init__.py
forwards unknown attributes here. The mappings are read-only live views of the bound registry (core
nodes and packs loaded so far); a core class is Loom's native class, not a V1 class with FUNCTION.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from comfy_compat import state

MAX_RESOLUTION = 16384


class _RegistryView(Mapping):
    """class_type -> class (or display name) over the bound registry."""

    def __init__(self, field: str):
        self._field = field

    def _registry(self) -> Any:
        registry = state.registry()
        return registry if registry is not None else {}

    def __getitem__(self, class_type: str) -> Any:
        registry = self._registry()
        if class_type not in registry:
            raise KeyError(class_type)
        definition = registry.get(class_type)
        return definition.cls if self._field == "cls" else definition.spec.display_name

    def __iter__(self) -> Iterator[str]:
        registry = self._registry()
        return iter(registry.names() if registry else [])

    def __len__(self) -> int:
        return len(self._registry())


ATTRIBUTES = {
    "NODE_CLASS_MAPPINGS": _RegistryView("cls"),
    "NODE_DISPLAY_NAME_MAPPINGS": _RegistryView("display_name"),
    "MAX_RESOLUTION": MAX_RESOLUTION,
}


def attribute(name: str) -> Any:
    """The value of ComfyUI's `nodes.<name>`; AttributeError for what Loom does not emulate."""
    try:
        return ATTRIBUTES[name]
    except KeyError:
        raise AttributeError(f"module 'nodes' has no attribute {name!r} (Loom's core node package; "
                             f"of ComfyUI's nodes module it provides only {', '.join(ATTRIBUTES)})") from None
