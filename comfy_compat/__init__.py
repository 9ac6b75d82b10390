"""Loom's ComfyUI compatibility layer: the modules ComfyUI node packs import, backed by Loom's objects.

`install(registry)` (the pack loader calls it through the start-up wiring, before packs import) binds
the layer to the registry whose packs are loading and puts an import hook in front of sys.meta_path:
`import comfy.samplers` then gives Loom's comfy_compat.comfy.samplers, one module object under both
names, loaded only when a pack asks for it. A ComfyUI name with a real module of its own (Loom running
beside ComfyUI's source) is left alone. Loom's own core node package is named `nodes` like ComfyUI's
module; nodes/__init__.py forwards ComfyUI's names to comfy_compat.comfy_nodes.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType
from typing import Any

from comfy_compat import state
from comfy_compat.state import clear_server, set_server

__all__ = ["EMULATED", "RENAMED", "clear_server", "install", "missing_module_hint", "set_server"]

# ComfyUI's top-level module names -> the Loom package standing in for each (submodules follow).
EMULATED: dict[str, str] = {
    name: f"comfy_compat.{name}"
    for name in ("comfy", "comfy_extras", "comfy_execution", "comfy_api", "comfy_config", "folder_paths",
                 "server", "node_helpers", "latent_preview", "execution")
}
# ComfyUI module names whose Loom module has another name (a private-looking ComfyUI name, say).
RENAMED: dict[str, str] = {
    "comfy_api.latest._io": "comfy_compat.comfy_api.latest.io",
    "comfy_api.latest._ui": "comfy_compat.comfy_api.latest.ui",
}


class _AliasLoader(importlib.abc.Loader):
    """Loads a ComfyUI name as the Loom module standing in for it (the same object, never a copy)."""

    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the Loom module executed when it was first imported."""


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds `comfy.*`, `folder_paths`, `server`, ... in comfy_compat; unknown submodules stay missing."""

    def __init__(self, tops: set[str]):
        self.tops = tops

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname.startswith("comfy_compat.comfy_extras."):  # `from comfy_extras import nodes_x`
            found = importlib.machinery.PathFinder.find_spec(fullname, path)
            return None if found is not None else self._node_view(fullname)
        top, _, rest = fullname.partition(".")
        if top not in self.tops:
            return None
        loom_name = RENAMED.get(fullname) or EMULATED[top] + ("." + rest if rest else "")
        try:
            found = importlib.util.find_spec(loom_name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return self._node_view(fullname) or self._other_family(fullname)
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(loom_name),
                                              is_package=found.submodule_search_locations is not None)


    @staticmethod
    def _node_view(fullname: str) -> importlib.machinery.ModuleSpec | None:
        """A `comfy_extras.nodes_*` module with no Loom file: a view onto Loom's node classes."""
        comfy_name = fullname.removeprefix("comfy_compat.")
        if not comfy_name.startswith("comfy_extras."):
            return None
        from comfy_compat.comfy_extras import module_names

        if comfy_name not in module_names():
            return None
        return importlib.machinery.ModuleSpec(fullname, _ViewLoader())


    @staticmethod
    def _other_family(fullname: str) -> importlib.machinery.ModuleSpec | None:
        """A module of a model family Loom does not load: stand-ins that raise when called."""
        from comfy_compat.other_families import is_other_family

        if not is_other_family(fullname):
            return None
        return importlib.machinery.ModuleSpec(fullname, _FamilyLoader(), is_package=True)


class _FamilyLoader(importlib.abc.Loader):
    """Builds a module of stand-ins (comfy_compat.other_families.family_module)."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        from comfy_compat.other_families import family_module

        return family_module(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: names are made when they are read."""


class _ViewLoader(importlib.abc.Loader):
    """Builds a comfy_extras view module (comfy_compat.comfy_extras.view_module)."""

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        from comfy_compat.comfy_extras import view_module

        return view_module(spec.name)

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the view resolves names when they are read."""


_finder = _AliasFinder(set())


def _real_module_exists(top: str) -> bool:
    """Whether `top` is already loaded or importable from something other than this layer. A bare
    folder of that name on sys.path (a namespace package, e.g. tests/server) is not a module."""
    existing = sys.modules.get(top)
    if existing is not None:
        return not getattr(existing, "__name__", "").startswith("comfy_compat") and (
            getattr(existing, "__file__", None) is not None)
    spec = importlib.util.find_spec(top)
    return spec is not None and spec.origin is not None


def _place_comfy_root() -> None:
    """Packs find "ComfyUI's folder" as the folder of `server` or `folder_paths` (e.g. to write
    web/extensions/ there): those modules report a file under Loom's user folder, never Loom's sources."""
    root = state.folders().user_dir / "comfyui"
    for name in ("server", "folder_paths"):
        importlib.import_module(f"comfy_compat.{name}").__file__ = str(root / f"{name}.py")


def install(registry: Any = None, pack_dirs: Any = ()) -> list[str]:
    """Bind the layer to `registry` and the folders packs load from (folder_paths' "custom_nodes") and
    serve ComfyUI's module names from it; returns the top-level names this layer provides (a name with a
    real module of its own is left alone, with its submodules)."""
    if registry is not None:
        state.bind_registry(registry)
    state.set_pack_dirs(pack_dirs)
    _place_comfy_root()
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    _finder.tops = {top for top in EMULATED if not _real_module_exists(top)}
    sys.meta_path.insert(0, _finder)
    return sorted(_finder.tops)


def missing_module_hint(exc: BaseException) -> str | None:
    """For a pack that failed on a ComfyUI module this layer does not provide, a line saying so."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) or not name:
        return None
    if name.split(".")[0] not in {*EMULATED, "nodes"}:
        return None
    return (f"ComfyUI module {name!r} is not provided by Loom (its compatibility layer, comfy_compat, "
            f"has no such module); `python main.py packs check` lists every such name a pack uses")
