"""The V3 node class protocol: `Schema` (what `define_schema()` returns), `ComfyNode` (the class a V3 node
extends), `NodeOutput` (what `execute` returns), hidden values and UI outputs.

A ComfyNode is used as a class, never as an instance: `execute`, `validate_inputs`, `fingerprint_inputs`
and `check_lazy_status` are classmethods; while one runs, `cls.hidden` holds the node's hidden values.
Loom's registry adapts these classes through `loom_definition` (see definition.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any

from comfy_compat.comfy_api.internal import _ComfyNodeInternal, _NodeOutputInternal, first_real_override
from comfy_compat.comfy_api.latest.io_types import Input, Output


class Hidden(str, Enum):
    """Hidden values a node may ask the host for."""

    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"
    auth_token_comfy_org = "AUTH_TOKEN_COMFY_ORG"
    api_key_comfy_org = "API_KEY_COMFY_ORG"


class HiddenHolder:
    """The hidden values of the running call (`cls.hidden.unique_id`, ...); unknown names read None."""

    def __init__(self, unique_id: str | None = None, prompt: Any = None, extra_pnginfo: Any = None,
                 dynprompt: Any = None, auth_token_comfy_org: str | None = None,
                 api_key_comfy_org: str | None = None, **_: Any):
        self.unique_id, self.prompt, self.extra_pnginfo = unique_id, prompt, extra_pnginfo
        self.dynprompt, self.auth_token_comfy_org, self.api_key_comfy_org = (
            dynprompt, auth_token_comfy_org, api_key_comfy_org)

    def __getattr__(self, name: str) -> Any:
        return None

    @classmethod
    def from_dict(cls, values: dict | None) -> HiddenHolder:
        values = values or {}
        return cls(**{member.name: values.get(member) for member in Hidden})


@dataclass
class Schema:
    """A V3 node's declaration."""

    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] | None = None
    outputs: list[Output] | None = None
    hidden: list[Hidden] | None = None
    description: str = ""
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False

    def validate(self) -> None:
        """Raise ValueError when input or output ids repeat (within or across the two lists)."""
        input_ids = [i.id for i in self.inputs or ()]
        output_ids = [o.id for o in self.outputs or ()]
        problems = []
        for kind, ids in (("Input", input_ids), ("Output", output_ids)):
            repeated = [name for name, count in Counter(ids).items() if count > 1]
            if repeated:
                problems.append(f"{kind} ids must be unique, but {repeated} are not.")
        shared = set(input_ids) & set(output_ids)
        if shared:
            problems.append(f"Ids must be unique between inputs and outputs, but {shared} are not.")
        if problems:
            raise ValueError(f"{self.node_id}: " + "\n".join(problems))

    def finalize(self) -> None:
        """Add the hidden values output and API nodes always get, and ids for outputs declared without one."""
        needed = []
        if self.is_api_node:
            needed += [Hidden.auth_token_comfy_org, Hidden.api_key_comfy_org]
        if self.is_output_node:
            needed += [Hidden.prompt, Hidden.extra_pnginfo]
        if needed:
            self.hidden = list(self.hidden or [])
            self.hidden += [h for h in needed if h not in self.hidden]
        for index, output in enumerate(self.outputs or ()):
            if output.id is None:
                output.id = f"_{index}_{output.io_type}_"


class UIOutput:
    """A value shown in the UI under the node (the `ui` of a NodeOutput)."""

    def as_dict(self) -> dict:
        raise NotImplementedError


class NodeOutput(_NodeOutputInternal):
    """What `execute` returns: output values, plus optional `ui`, `expand` (a subgraph) or `block_execution`
    (a message; every output becomes an ExecutionBlocker)."""

    def __init__(self, *args: Any, ui: UIOutput | dict | None = None, expand: dict | None = None,
                 block_execution: str | None = None):
        self.args, self.ui, self.expand, self.block_execution = args, ui, expand, block_execution

    @property
    def result(self) -> tuple | None:
        return self.args if self.args else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NodeOutput:
        """A V1-style `{"result": ..., "ui": ..., "expand": ...}` dict as a NodeOutput."""
        from comfy_compat.comfy_execution.graph import ExecutionBlocker

        result = data.get("result", ())
        if isinstance(result, ExecutionBlocker):
            return cls(block_execution=result.message, ui=data.get("ui"), expand=data.get("expand"))
        return cls(*(result or ()), ui=data.get("ui"), expand=data.get("expand"))

    def __getitem__(self, index: int) -> Any:
        return self.args[index]


class ComfyNode(_ComfyNodeInternal):
    """Base class of V3 nodes: override `define_schema` and `execute` (sync or async), optionally
    `validate_inputs`, `fingerprint_inputs` and `check_lazy_status`."""

    RELATIVE_PYTHON_MODULE: str | None = None
    SCHEMA: Schema | None = None
    hidden: HiddenHolder | None = None
    resources: Any = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError(f"{cls.__name__} must define define_schema()")

    @classmethod
    def execute(cls, **kwargs: Any) -> NodeOutput:
        raise NotImplementedError(f"{cls.__name__} must define execute()")

    @classmethod
    def validate_inputs(cls, **kwargs: Any) -> bool | str:
        raise NotImplementedError

    @classmethod
    def fingerprint_inputs(cls, **kwargs: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def check_lazy_status(cls, **kwargs: Any) -> list[str]:
        """By default every lazy input not evaluated yet (None) is needed."""
        return [name for name, value in kwargs.items() if value is None]

    @classmethod
    def GET_BASE_CLASS(cls) -> type:
        return ComfyNode

    @classmethod
    def VALIDATE_CLASS(cls) -> None:
        for name in ("define_schema", "execute"):
            if not cls.overrides(name):
                raise TypeError(f"No {name} function was defined for node class {cls.__name__}.")

    @classmethod
    def overrides(cls, name: str) -> bool:
        """Whether this node defines `name` itself (ComfyNode's own versions only mark a hook as absent)."""
        return first_real_override(cls, name) is not None

    @classmethod
    def FINALIZE_SCHEMA(cls) -> Schema:
        schema = cls.define_schema()
        schema.finalize()
        return schema

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        """The checked, finalized schema (kept as cls.SCHEMA)."""
        cls.VALIDATE_CLASS()
        schema = cls.FINALIZE_SCHEMA()
        schema.validate()
        cls.SCHEMA = schema
        return schema

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict[str, Any]:
        """The node's /object_info entry."""
        from comfy_compat.comfy_api.latest.node_info import v1_info

        return v1_info(cls.GET_SCHEMA(), cls.RELATIVE_PYTHON_MODULE or "nodes")

    @classmethod
    def INPUT_TYPES(cls, include_hidden: bool = True) -> dict[str, dict]:
        """The V1-shaped input declaration."""
        inputs = cls.GET_NODE_INFO_V1()["input"]
        if not include_hidden:
            inputs.pop("hidden", None)
        return inputs

    @classmethod
    def PREPARE_CLASS_CLONE(cls, hidden_inputs: dict | None) -> type:
        """A subclass carrying one call's hidden values, so concurrent calls never share `hidden`."""
        return type(cls.__name__, (cls,), {"hidden": HiddenHolder.from_dict(hidden_inputs),
                                           "__module__": cls.__module__, "__qualname__": cls.__qualname__})

    @classmethod
    def loom_definition(cls, name: str | None, python_module: str, display_name: str | None = None) -> Any:
        """Loom's registry hook: this class behind the common NodeDefinition interface."""
        from comfy_compat.comfy_api.latest.definition import V3Definition

        return V3Definition(cls, name, python_module, display_name)
