"""Classes whose isinstance checks test a Loom model's family, for ComfyUI's model_base / supported_models.

Packs branch on `isinstance(model.model, comfy.model_base.SDXL)` or on a supported_models class; Loom's
MODEL carries a detected CheckpointConfig with a `family` ("sd1", "sd2", "sdxl", "sdxl_refiner", "svd").
These classes are never instantiated by Loom: they only answer isinstance for Loom's values.
"""

from __future__ import annotations

from typing import Any


def model_family(value: Any) -> str | None:
    """The family of a MODEL value, its inner model, or a config (None when it has none)."""
    for candidate in (value, getattr(value, "model", None)):
        config = getattr(candidate, "config", None)
        family = getattr(config, "family", None) or getattr(candidate, "family", None)
        if isinstance(family, str):
            return family
    return None


class FamilyMeta(type):
    """isinstance(x, cls) holds for real subclasses' instances and for Loom values of cls.families."""

    families: frozenset[str]

    def __instancecheck__(cls, value: Any) -> bool:
        return type.__instancecheck__(cls, value) or model_family(value) in cls.families


def family_class(name: str, families: set[str], base: type | None = None, module: str = "") -> type:
    """A class named `name` (subclass of `base`) matching Loom models of `families`."""
    bases = (base,) if base is not None else ()
    return FamilyMeta(name, bases, {"families": frozenset(families), "__module__": module,
                                    "__doc__": f"ComfyUI's {name}; matches Loom models of family "
                                               f"{', '.join(sorted(families)) or '(none in Loom)'}."})


class StandsForMeta(type):
    """isinstance(x, cls) holds for real subclasses' instances and for instances of cls.loom_types."""

    loom_types: tuple[type, ...]

    def __instancecheck__(cls, value: Any) -> bool:
        return type.__instancecheck__(cls, value) or isinstance(value, cls.loom_types)


def standing_for(name: str, loom_types: tuple[type, ...], base: type | None = None, module: str = "") -> type:
    """A ComfyUI class name packs subclass or test with isinstance, matching Loom's value types."""
    bases = (base,) if base is not None else ()
    return StandsForMeta(name, bases, {"loom_types": loom_types, "__module__": module,
                                       "__doc__": f"ComfyUI's {name}; Loom's values of it are "
                                                  f"{', '.join(t.__name__ for t in loom_types) or 'none'}."})
