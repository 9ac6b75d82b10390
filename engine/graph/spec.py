"""The internal node spec (pydantic) and `NodeDefinition`, the one interface both declaration styles adapt to.

Everything downstream (registry, /object_info, validation, executor) reads a NodeDefinition and never
cares whether the node was written in the native style or the ComfyUI V1 protocol.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from functools import cached_property, lru_cache
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

Section = Literal["required", "optional", "hidden"]


class InputSpec(BaseModel):
    """One declared input: a socket, a widget (INT/FLOAT/STRING/BOOLEAN/COMBO) or a hidden value."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str
    type: str
    section: Section = "required"
    default: Any = None
    min: int | float | None = None
    max: int | float | None = None
    step: int | float | None = None
    choices: list[Any] | None = None
    choices_fn: Callable[[Any], list[Any]] | None = Field(default=None, exclude=True)
    lazy: bool = False
    raw_link: bool = False
    force_input: bool = False
    tooltip: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class OutputSpec(BaseModel):
    """One output slot."""

    type: str
    name: str
    is_list: bool = False
    tooltip: str | None = None


class NodeSpec(BaseModel):
    """Everything a host needs to know about a node class, independent of how it was declared."""

    name: str
    display_name: str
    category: str = ""
    description: str = ""
    python_module: str = "nodes"
    output_node: bool = False
    input_is_list: bool = False
    not_idempotent: bool = False
    deprecated: bool = False
    experimental: bool = False
    api_node: bool = False
    alias_of: str | None = None  # a second name for another node (design-card names); palettes hide it
    inputs: list[InputSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)

    def input(self, name: str) -> InputSpec | None:
        return next((i for i in self.inputs if i.name == name), None)

    def section(self, section: Section) -> list[InputSpec]:
        return [i for i in self.inputs if i.section == section]


ALL_INPUTS = frozenset({"*"})

#: hidden input kinds whose value the host supplies; a hidden input of any other type (e.g. "*") receives
#: whatever the prompt gives it, like a normal input
HOST_HIDDEN_KINDS = frozenset({"PROMPT", "DYNPROMPT", "EXTRA_PNGINFO", "UNIQUE_ID", "AUTH_TOKEN_COMFY_ORG",
                               "API_KEY_COMFY_ORG"})


@lru_cache(maxsize=4096)
def accepted_parameters(fn: Callable) -> frozenset[str]:
    """Names `fn` accepts as keywords; ALL_INPUTS when it takes **kwargs."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return ALL_INPUTS
    return frozenset(p.name for p in params if p.kind is not inspect.Parameter.VAR_POSITIONAL)


def call_with_accepted(fn: Callable, kwargs: dict[str, Any]) -> Any:
    """Call `fn` with the subset of `kwargs` it accepts."""
    accepted = accepted_parameters(fn)
    if accepted is ALL_INPUTS:
        return fn(**kwargs)
    return fn(**{k: v for k, v in kwargs.items() if k in accepted})


class NodeDefinition:
    """A registered node class behind the common interface. Subclasses adapt one declaration style."""

    spec: NodeSpec
    cls: type
    #: the node function is `async def`
    is_async: bool = False
    #: hidden input name -> kind ("PROMPT", "EXTRA_PNGINFO", "UNIQUE_ID", "DYNPROMPT", ...)
    hidden: ClassVar[dict[str, str]] = {}
    #: names of the class's optional IS_CHANGED and VALIDATE_INPUTS hooks in this declaration style
    fingerprint_hook: ClassVar[str] = "IS_CHANGED"
    validation_hook: ClassVar[str] = "VALIDATE_INPUTS"

    def _hook(self, name: str) -> Callable | None:
        hook = getattr(self.cls, name, None)
        return hook if callable(hook) else None

    @cached_property
    def has_fingerprint(self) -> bool:
        return self._hook(self.fingerprint_hook) is not None

    @cached_property
    def has_lazy_check(self) -> bool:
        return self._hook("check_lazy_status") is not None

    @cached_property
    def has_custom_validation(self) -> bool:
        return self._hook(self.validation_hook) is not None

    @cached_property
    def deferred_inputs(self) -> frozenset[str]:
        """Inputs not evaluated before the node runs: lazy ones and raw links."""
        return frozenset(i.name for i in self.spec.inputs if i.lazy or i.raw_link)

    @cached_property
    def plain_call(self) -> bool:
        """Called once per run with its inputs as they are: not async, no lazy check, no lazy or raw-link
        inputs, no list inputs or outputs. The scheduler takes such nodes by its short path."""
        return not (self.is_async or self.has_lazy_check or self.deferred_inputs or self.spec.input_is_list
                    or any(output.is_list for output in self.spec.outputs))

    @cached_property
    def host_hidden(self) -> dict[str, str]:
        """Hidden inputs the host fills in (name -> kind)."""
        return {name: kind for name, kind in self.hidden.items() if kind in HOST_HIDDEN_KINDS}

    @cached_property
    def passthrough_hidden(self) -> frozenset[str]:
        """Hidden inputs that take the prompt's value (a literal or a link) like normal inputs."""
        return frozenset(name for name, kind in self.hidden.items() if kind not in HOST_HIDDEN_KINDS)

    @cached_property
    def declared_inputs(self) -> frozenset[str]:
        return frozenset(i.name for i in self.spec.inputs)

    @cached_property
    def raw_link_inputs(self) -> frozenset[str]:
        """Inputs that receive the link itself instead of its value."""
        return frozenset(i.name for i in self.spec.inputs if i.raw_link)

    def bind(self, name: str, python_module: str, alias_of: str | None = None) -> NodeDefinition:
        """A copy registered under `name` (aliases, mapping keys) from `python_module`."""
        clone = copy.copy(self)
        clone.spec = self.spec.model_copy(update={"name": name, "python_module": python_module,
                                                  "alias_of": alias_of})
        return clone

    def new_instance(self) -> Any:
        """The object kept per (node id, class) across runs (V1 instances); None when unused."""
        return None

    def call(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        """Run the node once; returns its raw result (maybe awaitable)."""
        raise NotImplementedError

    def lazy_status(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        """Names of lazy inputs the node needs evaluated before it can run (maybe awaitable)."""
        return []

    def fingerprint(self, constants: dict[str, Any]) -> Any:
        """The IS_CHANGED value for these constant inputs (maybe awaitable); None without the hook."""
        hook = self._hook(self.fingerprint_hook)
        return call_with_accepted(hook, constants) if hook else None

    def custom_validate(self, constants: dict[str, Any], input_types: dict[str, str]) -> Any:
        """Run the class's own input validation: True, or a reason string (maybe awaitable)."""
        hook = self._hook(self.validation_hook)
        return call_with_accepted(hook, {**constants, "input_types": input_types}) if hook else True

    @cached_property
    def open_combos(self) -> frozenset[str]:
        """Combo inputs without a fixed option list here (a remote list, one the canvas fills in): their
        values are not checked against options, as ComfyUI never checks them."""
        return frozenset(i.name for i in self.spec.inputs if i.type == "COMBO" and i.choices_fn is None
                         and (not i.choices or "remote" in i.extra))

    def validator_claims(self) -> frozenset[str]:
        """Inputs the custom validator checks itself, plus open combos (their min/max/options checks are
        skipped); "input_types" among them means it also checks linked types."""
        return self._validator_claims

    @cached_property
    def _validator_claims(self) -> frozenset[str]:  # asked per node of every prompt validated
        hook = self._hook(self.validation_hook)
        return (accepted_parameters(hook) if hook else frozenset()) | self.open_combos

    def combo_choices(self, name: str, services: Any) -> list[Any]:
        """Current options of a combo input (computed live: folder listings change)."""
        item = self.spec.input(name)
        if item is None:
            return []
        if item.choices_fn is not None:
            return list(item.choices_fn(getattr(services, "folders", None)))
        return list(item.choices or [])

    def input_types(self, services: Any) -> dict[str, dict[str, list]]:
        """The V1 `INPUT_TYPES()`-shaped declaration with live combo options (object_info's "input")."""
        out: dict[str, dict[str, list]] = {"required": {}, "optional": {}, "hidden": {}}
        for item in self.spec.inputs:
            if item.section == "hidden":
                out["hidden"][item.name] = item.type
                continue
            kind: Any = self.combo_choices(item.name, services) if item.type == "COMBO" else item.type
            options = input_options(item)
            out[item.section][item.name] = [kind, options] if options else [kind]
        return {k: v for k, v in out.items() if v or k == "required"}

    def object_info(self, services: Any) -> dict[str, Any]:
        """This node's `/object_info` entry."""
        spec = self.spec
        inputs = self.input_types(services)
        info: dict[str, Any] = {
            "input": inputs,
            "input_order": {section: list(names) for section, names in inputs.items()},
            "output": [o.type for o in spec.outputs],
            "output_is_list": [o.is_list for o in spec.outputs],
            "output_name": [o.name for o in spec.outputs],
            "name": spec.name,
            "display_name": spec.display_name,
            "description": spec.description,
            "python_module": spec.python_module,
            "category": spec.category,
            "output_node": spec.output_node,
        }
        if any(o.tooltip for o in spec.outputs):
            info["output_tooltips"] = [o.tooltip for o in spec.outputs]
        for flag in ("deprecated", "experimental", "api_node"):
            if getattr(spec, flag):
                info[flag] = True
        if spec.alias_of:
            info["alias_of"] = spec.alias_of
        return info


def input_options(item: InputSpec) -> dict[str, Any]:
    """The option dict of an input as the canvas expects it (default/min/max/step/lazy/tooltip/...)."""
    options: dict[str, Any] = {}
    if item.default is not None:
        options["default"] = item.default
    for key in ("min", "max", "step"):
        value = getattr(item, key)
        if value is not None:
            options[key] = value
    for key, flag in (("lazy", "lazy"), ("rawLink", "raw_link"), ("forceInput", "force_input")):
        if getattr(item, flag):
            options[key] = True
    if item.tooltip:
        options["tooltip"] = item.tooltip
    options.update(item.extra)
    return options
