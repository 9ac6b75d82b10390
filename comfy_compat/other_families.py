"""ComfyUI modules of model families Loom does not load (Flux, Wan, HunyuanVideo, LTX, ... and their text
encoders): importing them works, so a pack that supports many families loads; every name read from
them is a stand-in class that raises NotImplementedError when called or instantiated (it can still be
subclassed at import time). `packs check` reports these names as lacking (UNAVAILABLE marker).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

UNAVAILABLE = "__loom_unavailable__"  # attribute set on every stand-in (pack_scan reports them)

# comfy.ldm.<name> packages of other families, and the comfy.text_encoders package (all other families).
LDM_FAMILIES = frozenset({"ace", "audio", "aura", "cascade", "chroma", "chroma_radiance", "common_dit", "cosmos",
                          "flux", "genmo", "hidream", "hunyuan3d", "hunyuan3dv2_1", "hunyuan_video", "hydit",
                          "lightricks", "lumina", "omnigen", "pixart", "qwen_image", "wan"})


def is_other_family(comfy_name: str) -> bool:
    """Whether `comfy_name` (e.g. "comfy.ldm.flux.math") belongs to a family Loom does not load."""
    parts = comfy_name.split(".")
    if parts[:2] == ["comfy", "text_encoders"]:
        return True
    return len(parts) >= 3 and parts[:2] == ["comfy", "ldm"] and parts[2] in LDM_FAMILIES


class _Unavailable(type):
    """Metaclass of the stand-ins: calling the class (instantiating it) raises NotImplementedError."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{cls.__module__}.{cls.__name__} belongs to a model family Loom does not load")


def stand_in(module_name: str, name: str) -> type:
    """A class named `name` standing for ComfyUI's `module_name.name`."""
    return _Unavailable(name, (), {"__module__": module_name, UNAVAILABLE: True,
                                   "__doc__": f"ComfyUI's {module_name}.{name}, not available in Loom."})


def family_module(module_name: str) -> ModuleType:
    """A module (usable as a package) whose every attribute is a stand-in."""
    module = ModuleType(module_name, f"ComfyUI's {module_name}: a model family Loom does not load.")
    module.__path__ = []
    module.__dict__[UNAVAILABLE] = True
    cache: dict[str, type] = {}

    def get(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return cache.setdefault(name, stand_in(module_name, name))

    module.__getattr__ = get
    return module
