"""Native node declaration: a pydantic class is its own schema (inputs are typed fields).

    @node(category="image", outputs=[Out("IMAGE")])
    class ImageInvert(Node):
        image: Annotated[object, Socket("IMAGE")]
        def run(self, ctx):
            return (1.0 - self.image,)
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticUndefined

from engine.graph.spec import InputSpec, NodeDefinition, NodeSpec, OutputSpec

_SCALAR_TYPES = {bool: "BOOLEAN", int: "INT", float: "FLOAT", str: "STRING"}


class Socket:
    """Marks a field as a socket of a (non-widget) type: `Annotated[object, Socket("MODEL")]`."""

    def __init__(self, type: str, *, lazy: bool = False, raw_link: bool = False, tooltip: str | None = None,
                 **extra: Any):
        self.type, self.lazy, self.raw_link, self.tooltip, self.extra = type, lazy, raw_link, tooltip, extra


class Widget:
    """Extra widget options for a scalar field (step, multiline, slider, lazy, tooltip, ...)."""

    def __init__(self, *, step: float | None = None, round: float | bool | None = None, multiline: bool = False,
                 control_after_generate: bool = False, display: str | None = None, lazy: bool = False,
                 tooltip: str | None = None, force_input: bool = False, image_upload: bool = False,
                 placeholder: str | None = None, optional: bool = False, **extra: Any):
        self.step, self.lazy, self.tooltip, self.force_input = step, lazy, tooltip, force_input
        self.optional = optional  # listed under "optional" even with a default (ComfyUI's optional widgets)
        flags = {"round": round, "multiline": multiline, "control_after_generate": control_after_generate,
                 "display": display, "image_upload": image_upload, "placeholder": placeholder}
        # round=False is kept: ComfyUI's "round": false (no rounding to the step) is part of an interface
        self.extra = {k: v for k, v in flags.items() if v is not None and (v is not False or k == "round")} | extra


class Combo:
    """A combo whose options are static or computed live from the host's `Folders`."""

    def __init__(self, options: Callable[[Any], Sequence[Any]] | Sequence[Any], *, lazy: bool = False,
                 tooltip: str | None = None, **extra: Any):
        self.options, self.lazy, self.tooltip, self.extra = options, lazy, tooltip, extra


@dataclass(frozen=True)
class Out:
    """One output slot; `name` defaults to the type."""

    type: str
    name: str | None = None
    is_list: bool = False
    tooltip: str | None = None


@dataclass
class NodeOutput:
    """A node result with UI data and/or a subgraph to expand into, besides the output tuple."""

    result: tuple | None = None
    ui: dict | None = None
    expand: dict | None = None


class Node(BaseModel):
    """Base class of native nodes; fields are inputs, `run(self, ctx)` computes the outputs."""

    model_config = ConfigDict(arbitrary_types_allowed=True, protected_namespaces=())

    def run(self, ctx: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.run is not implemented")


def _scalar_type(annotation: Any) -> tuple[str | None, list | None]:
    """(widget type, static options) of a plain annotation; (None, None) when it is not a widget."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _scalar_type(args[0]) if len(args) == 1 else (None, None)
    if origin is Literal:
        return "COMBO", list(typing.get_args(annotation))
    return _SCALAR_TYPES.get(annotation), None


def _field_input(cls: type, name: str, field: Any) -> InputSpec:
    meta = {type(m): m for m in field.metadata}
    marker = meta.get(Socket) or meta.get(Combo) or meta.get(Widget)
    default = None if field.default is PydanticUndefined else field.default
    if isinstance(marker, Socket):
        kind, choices, choices_fn = marker.type, None, None
        section = "required" if field.is_required() else "optional"
    else:
        kind, choices = _scalar_type(field.annotation)
        choices_fn = None
        if isinstance(marker, Combo):
            kind = "COMBO"
            if callable(marker.options):
                choices_fn = marker.options
            else:
                choices = list(marker.options)
        if kind is None:
            raise TypeError(f"{cls.__name__}.{name}: annotate it as int/float/str/bool/Literal, or with "
                            f"Socket(TYPE) / Combo(...), got {field.annotation!r}")
        optional = getattr(marker, "optional", False) or (not field.is_required() and default is None)
        section = "optional" if optional else "required"
    bounds = {"min": None, "max": None}
    for m in field.metadata:
        if isinstance(m, (annotated_types.Ge, annotated_types.Gt)):
            bounds["min"] = getattr(m, "ge", getattr(m, "gt", None))
        elif isinstance(m, (annotated_types.Le, annotated_types.Lt)):
            bounds["max"] = getattr(m, "le", getattr(m, "lt", None))
    return InputSpec(
        name=name, type=kind, section=section, default=default, choices=choices, choices_fn=choices_fn,
        step=getattr(marker, "step", None), lazy=getattr(marker, "lazy", False),
        raw_link=getattr(marker, "raw_link", False), force_input=getattr(marker, "force_input", False),
        tooltip=getattr(marker, "tooltip", None) or field.description, extra=dict(getattr(marker, "extra", {})),
        **bounds,
    )


class NativeDefinition(NodeDefinition):
    """Adapts a `@node`-decorated pydantic class."""

    fingerprint_hook = "is_changed"
    validation_hook = "validate_inputs"

    def __init__(self, cls: type[Node], spec: NodeSpec, aliases: Sequence[str] = ()):
        self.cls, self.spec, self.aliases = cls, spec, tuple(aliases)
        self.is_async = inspect.iscoroutinefunction(cls.run)
        self.hidden = {}

    def call(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        return self.cls.model_construct(**kwargs).run(ctx)

    def lazy_status(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        if not self.has_lazy_check:
            return []
        return self.cls.model_construct(**kwargs).check_lazy_status(ctx)


def node(cls: type[Node] | None = None, *, name: str | None = None, category: str = "",
         display_name: str | None = None, description: str | None = None, outputs: Sequence[Out] = (),
         output_node: bool = False, input_is_list: bool = False, not_idempotent: bool = False,
         deprecated: bool = False, experimental: bool = False, aliases: Sequence[str] = ()) -> Any:
    """Declare a native node class; usable as `@node` or `@node(...)`."""

    def decorate(target: type[Node]) -> type[Node]:
        if not (isinstance(target, type) and issubclass(target, Node)):
            raise TypeError(f"@node needs a subclass of engine.graph.native.Node, got {target!r}")
        class_type = name or target.__name__
        doc = target.__dict__.get("__doc__")
        spec = NodeSpec(
            name=class_type, display_name=display_name or class_type, category=category,
            description=description if description is not None else inspect.cleandoc(doc or ""),
            python_module=target.__module__, output_node=output_node, input_is_list=input_is_list,
            not_idempotent=not_idempotent, deprecated=deprecated, experimental=experimental,
            inputs=[_field_input(target, f.alias or n, f) for n, f in target.model_fields.items()],
            outputs=[OutputSpec(type=o.type, name=o.name or o.type, is_list=o.is_list, tooltip=o.tooltip)
                     for o in outputs],
        )
        target.__loom_definition__ = NativeDefinition(target, spec, aliases)
        return target

    return decorate(cls) if cls is not None else decorate


def definition_of(obj: Any) -> NativeDefinition | None:
    """The NativeDefinition of a `@node` class (not inherited by undecorated subclasses)."""
    if isinstance(obj, type):
        found = obj.__dict__.get("__loom_definition__")
        if isinstance(found, NativeDefinition):
            return found
    return None
