"""Adapter for ComfyUI's V1 node protocol (INPUT_TYPES, RETURN_TYPES, FUNCTION, ...) so packs keep working."""

from __future__ import annotations

import inspect
from typing import Any

from engine.graph.spec import InputSpec, NodeDefinition, NodeSpec, OutputSpec

_KNOWN_OPTIONS = {"default", "min", "max", "step", "lazy", "rawLink", "forceInput", "tooltip"}


def _jsonable(value: Any) -> Any:
    """Tuples to lists, recursively, so the declaration can be served as JSON."""
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def parse_input(name: str, decl: Any, section: str) -> InputSpec:
    """One INPUT_TYPES() entry, `(type, options)` or `(choices, options)`, as an InputSpec."""
    if section == "hidden":
        kind = decl[0] if isinstance(decl, (list, tuple)) else decl
        return InputSpec(name=name, type=str(kind), section="hidden")
    if not isinstance(decl, (list, tuple)):
        decl = (decl,)
    kind = decl[0]
    opts = decl[1] if len(decl) > 1 and isinstance(decl[1], dict) else {}
    choices = None
    if isinstance(kind, (list, tuple)):
        kind, choices = "COMBO", list(kind)
    elif kind == "COMBO":
        choices = list(opts.get("options", []))
    return InputSpec(
        name=name, type=str(kind), section=section, default=opts.get("default"), min=opts.get("min"),
        max=opts.get("max"), step=opts.get("step"), choices=choices, lazy=bool(opts.get("lazy")),
        raw_link=bool(opts.get("rawLink")), force_input=bool(opts.get("forceInput")), tooltip=opts.get("tooltip"),
        extra={k: v for k, v in opts.items() if k not in _KNOWN_OPTIONS},
    )


def _output_type(kind: Any) -> str:
    return "COMBO" if isinstance(kind, (list, tuple)) else str(kind)


class V1Definition(NodeDefinition):
    """Adapts a class written against ComfyUI's V1 node protocol."""

    def __init__(self, cls: type, name: str, python_module: str = "nodes", display_name: str | None = None):
        self.cls = cls
        declared = cls.INPUT_TYPES()
        inputs = [
            parse_input(n, decl, section)
            for section in ("required", "optional", "hidden")
            for n, decl in (declared.get(section) or {}).items()
        ]
        return_types = tuple(getattr(cls, "RETURN_TYPES", ()))
        names = tuple(getattr(cls, "RETURN_NAMES", None) or ())
        is_list = tuple(getattr(cls, "OUTPUT_IS_LIST", None) or ())
        tooltips = tuple(getattr(cls, "OUTPUT_TOOLTIPS", None) or ())
        outputs = [
            OutputSpec(
                type=_output_type(kind), name=names[i] if i < len(names) else _output_type(kind),
                is_list=bool(is_list[i]) if i < len(is_list) else False,
                tooltip=tooltips[i] if i < len(tooltips) else None,
            )
            for i, kind in enumerate(return_types)
        ]
        self.spec = NodeSpec(
            name=name, display_name=display_name or getattr(cls, "DISPLAY_NAME", None) or name,
            category=getattr(cls, "CATEGORY", "sd"), description=getattr(cls, "DESCRIPTION", "") or "",
            python_module=python_module, output_node=bool(getattr(cls, "OUTPUT_NODE", False)),
            input_is_list=bool(getattr(cls, "INPUT_IS_LIST", False)),
            not_idempotent=bool(getattr(cls, "NOT_IDEMPOTENT", False)),
            deprecated=bool(getattr(cls, "DEPRECATED", False)), experimental=bool(getattr(cls, "EXPERIMENTAL", False)),
            api_node=bool(getattr(cls, "API_NODE", False)), inputs=inputs, outputs=outputs,
        )
        self.function_name = getattr(cls, "FUNCTION", None)
        method = getattr(cls, self.function_name, None) if isinstance(self.function_name, str) else None
        # ComfyUI lists a class without a FUNCTION method (display-only nodes) and fails only when it runs
        self.is_async = inspect.iscoroutinefunction(method)
        self.hidden = {i.name: i.type for i in inputs if i.section == "hidden"}

    def new_instance(self) -> Any:
        return self.cls()

    def call(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        method = getattr(instance, self.function_name, None) if isinstance(self.function_name, str) else None
        if not callable(method):
            raise TypeError(f"{self.spec.name} cannot run: its FUNCTION ({self.function_name!r}) does not name a "
                            f"method of {self.cls.__name__} (a display-only node)")
        return method(**kwargs)

    def lazy_status(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        return instance.check_lazy_status(**kwargs) if self.has_lazy_check else []

    def combo_choices(self, name: str, services: Any) -> list[Any]:
        """Read from a fresh INPUT_TYPES(): V1 packs list folders there, so the options change."""
        declared = self.cls.INPUT_TYPES()
        for section in ("required", "optional"):
            decl = (declared.get(section) or {}).get(name)
            if decl is not None:
                return parse_input(name, decl, section).choices or []
        return []

    def input_types(self, services: Any) -> dict[str, dict[str, list]]:
        declared = self.cls.INPUT_TYPES()
        return {section: _jsonable(declared[section]) for section in ("required", "optional", "hidden")
                if section in declared}
