"""Loom's registry adapter for V3 node classes: the schema becomes a NodeSpec, calls go to the class's
classmethods on a per-call clone holding the hidden values, and results are read as a NodeOutput."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from comfy_compat.comfy_api.latest.io_dynamic import expanded
from comfy_compat.comfy_api.latest.io_node import Hidden, NodeOutput, Schema, UIOutput
from comfy_compat.comfy_api.latest.node_info import input_declaration, v1_info, v1_inputs
from engine.graph import context
from engine.graph.blocker import ExecutionBlocker
from engine.graph.comfy_v1 import parse_input
from engine.graph.spec import ALL_INPUTS, NodeDefinition, NodeSpec, OutputSpec, accepted_parameters


def _output_type(io_type: Any) -> str:
    return "COMBO" if isinstance(io_type, (list, tuple)) else str(io_type)


def node_spec(schema: Schema, name: str, python_module: str, display_name: str | None) -> NodeSpec:
    """The engine's view of a V3 schema."""
    inputs = [parse_input(item.id, input_declaration(item), "optional" if item.optional else "required")
              for item in expanded(schema.inputs)]
    outputs = [OutputSpec(type=_output_type(o.io_type), name=o.display_name or _output_type(o.io_type),
                          is_list=bool(o.is_output_list), tooltip=o.tooltip) for o in schema.outputs or ()]
    return NodeSpec(
        name=name, display_name=display_name or schema.display_name or name, category=schema.category or "",
        description=schema.description or "", python_module=python_module, output_node=schema.is_output_node,
        input_is_list=schema.is_input_list, not_idempotent=schema.not_idempotent,
        deprecated=schema.is_deprecated, experimental=schema.is_experimental, api_node=schema.is_api_node,
        inputs=inputs, outputs=outputs,
    )


def hidden_values(schema: Schema, ctx: context.ExecutionContext | None) -> dict[Hidden, Any]:
    """The hidden values the schema asks for, from the running node's context."""
    if ctx is None:
        return {}
    available = {
        Hidden.unique_id: ctx.node_id, Hidden.prompt: ctx.prompt, Hidden.dynprompt: ctx.dynprompt,
        Hidden.extra_pnginfo: ctx.extra_data.get("extra_pnginfo"),
        Hidden.auth_token_comfy_org: ctx.extra_data.get("auth_token_comfy_org"),
        Hidden.api_key_comfy_org: ctx.extra_data.get("api_key_comfy_org"),
    }
    return {h: available[h] for h in schema.hidden or () if h in available}


class V3Definition(NodeDefinition):
    """A `comfy_api` V3 ComfyNode class behind the common NodeDefinition interface."""

    fingerprint_hook = "fingerprint_inputs"
    validation_hook = "validate_inputs"

    def __init__(self, cls: type, name: str | None, python_module: str, display_name: str | None = None):
        self.cls = cls
        self.schema = cls.GET_SCHEMA()
        self.spec = node_spec(self.schema, name or self.schema.node_id, python_module, display_name)
        if cls.RELATIVE_PYTHON_MODULE is None:
            cls.RELATIVE_PYTHON_MODULE = python_module
        self.is_async = inspect.iscoroutinefunction(cls.execute)

    def _hook(self, name: str) -> Callable | None:
        """Only hooks the node class defines itself count (ComfyNode's own versions mean "absent")."""
        return getattr(self.cls, name) if self.cls.overrides(name) else None

    def _clone(self, ctx: context.ExecutionContext | None) -> type:
        return self.cls.PREPARE_CLASS_CLONE(hidden_values(self.schema, ctx))

    def call(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        clone = self._clone(ctx)
        if self.is_async:
            return self._finish_async(clone.execute(**kwargs))
        return self.node_result(clone.execute(**kwargs))

    async def _finish_async(self, pending: Any) -> dict[str, Any]:
        return self.node_result(await pending)

    def lazy_status(self, instance: Any, kwargs: dict[str, Any], ctx: Any) -> Any:
        return self._clone(ctx).check_lazy_status(**kwargs) if self.has_lazy_check else []

    def fingerprint(self, constants: dict[str, Any]) -> Any:
        if not self.has_fingerprint:
            return None
        return self._clone(context.current()).fingerprint_inputs(**self._accepted("fingerprint_inputs", constants))

    def _accepted(self, hook: str, values: dict[str, Any]) -> dict[str, Any]:
        """The subset of `values` the class's `hook` takes (read from the class, so the check is cached)."""
        accepted = accepted_parameters(getattr(self.cls, hook))
        return values if accepted is ALL_INPUTS else {k: v for k, v in values.items() if k in accepted}

    def node_result(self, returned: Any) -> dict[str, Any]:
        """`execute`'s return value (NodeOutput, tuple, V1 dict, ExecutionBlocker or None) as the
        {"result", "ui", "expand"} dict the executor reads."""
        if returned is None:
            returned = NodeOutput()
        elif isinstance(returned, tuple):
            returned = NodeOutput(*returned)
        elif isinstance(returned, dict):
            returned = NodeOutput.from_dict(returned)
        elif isinstance(returned, ExecutionBlocker):
            returned = NodeOutput(block_execution=returned.message)
        elif not isinstance(returned, NodeOutput):
            raise TypeError(f"{self.spec.name}: execute returned {type(returned).__name__}; "
                            f"expected an io.NodeOutput")
        if returned.expand is not None and not self.schema.enable_expand:
            raise ValueError(f"{self.spec.name} returned an expansion, but its schema does not set "
                             f"enable_expand=True")
        ui = returned.ui.as_dict() if isinstance(returned.ui, UIOutput) else returned.ui
        result: Any = returned.result
        if returned.block_execution is not None:
            result = ExecutionBlocker(returned.block_execution)
        return {"result": result, "ui": ui, "expand": returned.expand}

    def combo_choices(self, name: str, services: Any) -> list[Any]:
        """Read from a fresh schema: define_schema may list folders, whose contents change."""
        for item in expanded(self.cls.GET_SCHEMA().inputs):
            if item.id == name:
                return list(item.as_dict().get("options") or [])
        return []

    def input_types(self, services: Any) -> dict[str, dict[str, list]]:
        return v1_inputs(self.cls.GET_SCHEMA())

    def object_info(self, services: Any) -> dict[str, Any]:
        return v1_info(self.cls.GET_SCHEMA(), self.spec.python_module)
