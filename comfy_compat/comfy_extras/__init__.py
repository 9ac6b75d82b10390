"""ComfyUI's `comfy_extras` package: each `comfy_extras.nodes_*` module is a view onto Loom's node classes.

A module without a file here is built on import (`view_module`): its attributes are the nodes ComfyUI
defines in that module, looked up by name in Loom's registry when read (so nodes other engineers add
appear), or a stand-in that raises NotImplementedError when called for a node Loom lacks. Modules with
helpers besides nodes (nodes_custom_sampler's noise classes, chainner_models) are files here that fall
back to the same lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

from comfy_compat.v1_calls import comfy_functions, comfy_node_class


@cache
def module_names() -> frozenset[str]:
    """The comfy_extras modules that define nodes in ComfyUI."""
    return frozenset(v["module"] for v in comfy_functions().values() if v["module"].startswith("comfy_extras."))


def node_getter(module_name: str) -> Callable[[str], Any]:
    """A module `__getattr__` resolving ComfyUI's node names of `module_name` in Loom's registry."""
    module_name = module_name.removeprefix("comfy_compat.")

    def get(name: str) -> Any:
        found = comfy_node_class(name, module_name)
        if found is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        return found

    return get


def view_module(module_name: str) -> ModuleType:
    """A module standing for ComfyUI's `module_name`, whose nodes are read from Loom's registry."""
    module = ModuleType(module_name, f"ComfyUI's {module_name}: its nodes, as Loom provides them.")
    module.__getattr__ = node_getter(module_name)
    return module
