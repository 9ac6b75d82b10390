"""A one-file pack mixing styles the way ComfyUI packs do: a V3 class listed in NODE_CLASS_MAPPINGS
(comfy_api.v0_0_2), V1 nodes typed with comfy.comfy_types that report progress through ComfyAPISync, take
hidden inputs of any type, and expand into nodes shown under another node's id."""

from __future__ import annotations

from comfy.comfy_types import IO, ComfyNodeABC, InputTypeDict
from comfy_api.v0_0_2 import ComfyAPISync, io
from comfy_execution.graph_utils import GraphBuilder

api_sync = ComfyAPISync()


class MappedDouble(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(node_id="MappedDoubleSchemaId", category="testing/v3",
                         inputs=[io.Int.Input("value", default=1)], outputs=[io.Int.Output()])

    @classmethod
    def execute(cls, value: int) -> io.NodeOutput:
        return io.NodeOutput(value * 2)


class SyncProgress(ComfyNodeABC):
    @classmethod
    def INPUT_TYPES(cls) -> InputTypeDict:
        return {"required": {"value": (IO.ANY, {}), "steps": (IO.INT, {"default": 3, "min": 1})}}

    RETURN_TYPES = (IO.ANY,)
    FUNCTION = "run"
    CATEGORY = "testing/v3"

    def run(self, value: object, steps: int) -> tuple:
        for step in range(1, steps + 1):
            api_sync.execution.set_progress(value=step, max_value=steps)
        return (value,)


class HiddenCarry(ComfyNodeABC):
    """Returns what its hidden "*" input was given, beside the host-filled unique id."""

    @classmethod
    def INPUT_TYPES(cls) -> InputTypeDict:
        return {"required": {}, "hidden": {"carry": ("*",), "unique_id": "UNIQUE_ID"}}

    RETURN_TYPES = (IO.ANY, IO.STRING)
    FUNCTION = "run"
    CATEGORY = "testing/v3"

    def run(self, unique_id: str, carry: object = None) -> tuple:
        return (carry, unique_id)


class ShownAs(ComfyNodeABC):
    """Expands into a HiddenCarry (fed through its hidden input) displayed as node `display_as`."""

    @classmethod
    def INPUT_TYPES(cls) -> InputTypeDict:
        return {"required": {"value": (IO.ANY, {}), "display_as": (IO.STRING, {"default": ""})}}

    RETURN_TYPES = (IO.ANY, IO.STRING)
    FUNCTION = "run"
    CATEGORY = "testing/v3"

    def run(self, value: object, display_as: str) -> dict:
        graph = GraphBuilder()
        inner = graph.node("HiddenCarry", carry=value)
        inner.set_override_display_id(display_as or None)
        assert inner.get_input("carry") == value and inner.get_input("missing") is None
        return {"result": (inner.out(0), inner.out(1)), "expand": graph.finalize()}


NODE_CLASS_MAPPINGS = {"MappedDouble": MappedDouble, "SyncProgress": SyncProgress, "HiddenCarry": HiddenCarry,
                       "ShownAs": ShownAs}
NODE_DISPLAY_NAME_MAPPINGS = {"SyncProgress": "Sync progress (v0_0_2)"}
