"""A V3 schema as its `/object_info` entry and its V1-shaped input declaration, the way ComfyUI serves them."""

from __future__ import annotations

from typing import Any

from comfy_compat.comfy_api.latest.io_dynamic import expanded
from comfy_compat.comfy_api.latest.io_node import Schema
from comfy_compat.comfy_api.latest.io_types import Input


def input_declaration(item: Input) -> tuple[Any, dict[str, Any]]:
    """(type, options) of one input as INPUT_TYPES() would declare it."""
    options = item.as_dict()
    options.pop("optional", None)
    return item.get_io_type(), options


def v1_inputs(schema: Schema) -> dict[str, dict[str, Any]]:
    """{"required": {...}, "optional": {...}, "hidden": {...}} with hidden values as (kind,)."""
    sections: dict[str, dict[str, Any]] = {"required": {}}
    for item in expanded(schema.inputs):
        kind, options = input_declaration(item)
        sections.setdefault("optional" if item.optional else "required", {})[item.id] = [kind, options]
    for hidden in schema.hidden or ():
        sections.setdefault("hidden", {})[hidden.name] = [hidden.value]
    return sections


def v1_info(schema: Schema, python_module: str) -> dict[str, Any]:
    """The node's /object_info entry. Like ComfyUI it names the schema's node_id and display_name (None when
    unset), even for a class a pack lists in NODE_CLASS_MAPPINGS under another key."""
    inputs = v1_inputs(schema)
    outputs = schema.outputs or []
    return {
        "input": inputs,
        "input_order": {section: list(names) for section, names in inputs.items()},
        "output": [o.io_type for o in outputs],
        "output_is_list": [o.is_output_list for o in outputs],
        "output_name": [o.display_name or o.io_type for o in outputs],
        "output_tooltips": [o.tooltip or None for o in outputs],
        "name": schema.node_id,
        "display_name": schema.display_name,
        "description": schema.description,
        "python_module": python_module,
        "category": schema.category,
        "output_node": schema.is_output_node,
        "deprecated": schema.is_deprecated,
        "experimental": schema.is_experimental,
        "api_node": schema.is_api_node,
    }
