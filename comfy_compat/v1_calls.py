"""ComfyUI-style classes for Loom's native nodes, so pack code can call `nodes.VAEEncode().encode(vae, pixels)`.

A native node is a pydantic class run as `run(self, ctx)`; ComfyUI's classes are instantiated with no
arguments and called through their FUNCTION with ComfyUI's parameter order. The order and the function
names come from data/v1_functions.json (written by tools/comfy_reference/v1_functions.py from a ComfyUI
checkout); a node ComfyUI lacks takes its inputs in declaration order under the function name `run`.
The call goes to the node's own definition with the running node's context, so it is Loom's code.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from comfy_compat import state
from comfy_compat.other_families import UNAVAILABLE
from engine.graph.native import NativeDefinition, NodeOutput

FUNCTIONS_FILE = Path(__file__).parent / "data" / "v1_functions.json"


@cache
def comfy_functions() -> dict[str, dict[str, Any]]:
    """class_type -> {"function": name, "params": [parameter names in ComfyUI's order]}."""
    return json.loads(FUNCTIONS_FILE.read_text(encoding="utf-8"))


def as_v1_result(result: Any) -> Any:
    """A native result as a ComfyUI FUNCTION returns it: a tuple, or {"ui", "result", "expand"}."""
    if not isinstance(result, NodeOutput):
        return result
    out = {key: value for key, value in (("ui", result.ui), ("result", result.result), ("expand", result.expand))
           if value is not None}
    return out if result.ui is not None or result.expand is not None else result.result


def _caller(definition: NativeDefinition, params: list[str]):
    def call(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(params):
            raise TypeError(f"{definition.spec.name}.{self.FUNCTION}() takes {len(params)} inputs "
                            f"({', '.join(params)}), got {len(args)}")
        inputs = dict(zip(params, args)) | kwargs
        known = {item.name for item in definition.spec.inputs}
        unknown = sorted(set(inputs) - known - set(params))
        if unknown:
            raise TypeError(f"{definition.spec.name}: unknown inputs {unknown}; it takes {sorted(known)}")
        ctx = state.node_context()
        return as_v1_result(definition.call(None, {k: v for k, v in inputs.items() if k in known}, ctx))

    return call


def vae_encode_crop_pixels(pixels: Any) -> Any:
    """IMAGE [B,H,W,C] centre-cropped to multiples of 8 (the SD VAEs' downscale), as VAEEncode crops."""
    height, width = (pixels.shape[1] // 8) * 8, (pixels.shape[2] // 8) * 8
    if (height, width) == tuple(pixels.shape[1:3]):
        return pixels
    top, left = (pixels.shape[1] % 8) // 2, (pixels.shape[2] % 8) // 2
    return pixels[:, top:top + height, left:left + width, :]


# Helpers ComfyUI's node classes carry as static methods, which packs call on the class.
CLASS_HELPERS = {"VAEEncode": {"vae_encode_crop_pixels": staticmethod(vae_encode_crop_pixels)},
                 "VAEEncodeForInpaint": {"vae_encode_crop_pixels": staticmethod(vae_encode_crop_pixels)}}
# ComfyUI node classes keep some combo options as class attributes packs read (ImageScale.upscale_methods).
COMBO_CLASS_ATTRIBUTES = {"upscale_method": "upscale_methods", "crop": "crop_methods"}


def _combo_lists(definition: NativeDefinition) -> dict[str, list]:
    found = {}
    for item in definition.spec.inputs:
        attribute = COMBO_CLASS_ATTRIBUTES.get(item.name)
        if attribute and item.type == "COMBO":
            found[attribute] = definition.combo_choices(item.name, state.services())
    return found


def v1_class(definition: NativeDefinition) -> type:
    """The ComfyUI-style class for one native node (built once per definition)."""
    cached = getattr(definition, "_comfy_v1_class", None)
    if cached is not None:
        return cached
    spec = definition.spec
    found = comfy_functions().get(spec.name) or {"function": "run", "params": [i.name for i in spec.inputs]}
    function = found["function"]

    def input_types(cls: type) -> dict[str, Any]:
        return definition.input_types(state.services())

    namespace = {
        "__doc__": f"Loom's native {spec.name} node, called the way ComfyUI's class is.",
        "__module__": "nodes",
        "FUNCTION": function,
        function: _caller(definition, found["params"] or [i.name for i in spec.inputs]),
        "INPUT_TYPES": classmethod(input_types),
        "RETURN_TYPES": tuple(o.type for o in spec.outputs),
        "RETURN_NAMES": tuple(o.name for o in spec.outputs),
        "OUTPUT_IS_LIST": tuple(o.is_list for o in spec.outputs),
        "CATEGORY": spec.category,
        "OUTPUT_NODE": spec.output_node,
        "DESCRIPTION": spec.description,
        "loom_definition": definition,
    }
    namespace.update(_combo_lists(definition))
    namespace.update(CLASS_HELPERS.get(spec.name, {}))
    cls = type(spec.name, (), namespace)
    definition._comfy_v1_class = cls
    return cls


def comfy_class(definition: Any) -> type:
    """What ComfyUI's NODE_CLASS_MAPPINGS holds for a registered node: its V1 class as is, or the
    ComfyUI-style class of a native node."""
    return v1_class(definition) if isinstance(definition, NativeDefinition) else definition.cls


def unavailable_class(class_type: str) -> type:
    """A stand-in for a ComfyUI node Loom does not have: importing it works (a pack that merely imports
    it loads), calling it raises NotImplementedError naming the node."""
    found = comfy_functions()[class_type]

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"ComfyUI's node {class_type} ({found['module']}) is not available in Loom")

    def input_types(cls: type) -> dict:
        return json.loads(json.dumps(found["input_types"]))  # a fresh copy: subclasses edit it

    return type(class_type, (), {"__doc__": f"ComfyUI's {class_type}, which Loom does not provide.",
                                 "__module__": found["module"], "FUNCTION": found["function"],
                                 found["function"]: call, "INPUT_TYPES": classmethod(input_types),
                                 "RETURN_TYPES": tuple(found["return_types"]), "CATEGORY": "unavailable",
                                 UNAVAILABLE: True})


def comfy_node_class(class_type: str, module: str | None = None) -> type | None:
    """ComfyUI's class `class_type` as `module` (None: any module) holds it: Loom's node when registered,
    a stand-in when ComfyUI has it there but Loom does not; None when ComfyUI has no such node there."""
    registry = state.registry()
    known = comfy_functions().get(class_type)
    if module is not None and (known is None or known["module"] != module):
        return None
    if registry is not None and class_type in registry:
        return comfy_class(registry.get(class_type))
    return unavailable_class(class_type) if known is not None else None
