"""A ComfyUI V3 node pack written for Loom's tests: sync and async nodes, lazy inputs, expansion, list inputs
and outputs, hidden values, UI outputs, custom validation, fingerprints and execution blocking.

Loaded through `comfy_entrypoint()`, as V3 packs are. CALLS records which nodes ran.
"""

from __future__ import annotations

import asyncio

from comfy_api.latest import ComfyAPI, ComfyExtension, io, ui
from comfy_api.latest._io import AutogrowDynamic, MatchType  # not in 0.3.64's io namespace, only in _io
from comfy_execution.graph_utils import GraphBuilder

CALLS: list[str] = []
api = ComfyAPI()


class Add(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TAdd", display_name="Add (V3)", category="testing/v3", description="a + b",
            inputs=[io.Int.Input("a", default=0, min=-100, max=100, step=1, tooltip="first term"),
                    io.Int.Input("b", default=0, optional=True, display_mode=io.NumberDisplay.slider)],
            outputs=[io.Int.Output(display_name="sum", tooltip="a + b")],
        )

    @classmethod
    def execute(cls, a: int, b: int = 0) -> io.NodeOutput:
        CALLS.append("V3TAdd")
        return io.NodeOutput(a + b)


class AsyncScale(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TAsyncScale", category="testing/v3",
            inputs=[io.Float.Input("x", default=1.0, min=-10.0, max=10.0, step=0.5, round=0.01),
                    io.Float.Input("factor", default=2.0)],
            outputs=[io.Float.Output()],
        )

    @classmethod
    async def execute(cls, x: float, factor: float) -> io.NodeOutput:
        await asyncio.sleep(0.01)
        await api.execution.set_progress(value=1, max_value=2)
        CALLS.append("V3TAsyncScale")
        return io.NodeOutput(x * factor)


class LazySwitch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TLazySwitch", category="testing/v3",
            inputs=[io.Boolean.Input("use_a", default=True, label_on="a", label_off="b"),
                    io.Int.Input("a", lazy=True, force_input=True),
                    io.Int.Input("b", lazy=True, force_input=True)],
            outputs=[io.Int.Output()],
        )

    @classmethod
    def check_lazy_status(cls, use_a: bool, a: int | None = None, b: int | None = None) -> list[str]:
        wanted = "a" if use_a else "b"
        return [wanted] if {"a": a, "b": b}[wanted] is None else []

    @classmethod
    def execute(cls, use_a: bool, a: int | None = None, b: int | None = None) -> io.NodeOutput:
        return io.NodeOutput(a if use_a else b)


class RepeatAdd(io.ComfyNode):
    """Expands into `times` chained V3TAdd nodes adding `step`."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TRepeatAdd", category="testing/v3", enable_expand=True,
            inputs=[io.Int.Input("value"), io.Int.Input("step", default=1), io.Int.Input("times", default=3, min=1)],
            outputs=[io.Int.Output()],
        )

    @classmethod
    def execute(cls, value: int, step: int, times: int) -> io.NodeOutput:
        graph = GraphBuilder()
        current = graph.node("V3TAdd", a=value, b=step)
        for _ in range(times - 1):
            current = graph.node("V3TAdd", a=current.out(0), b=step)
        return io.NodeOutput(current.out(0), expand=graph.finalize())


class Range(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TRange", category="testing/v3",
            inputs=[io.Int.Input("count", default=3, min=0)],
            outputs=[io.Int.Output(is_output_list=True)],
        )

    @classmethod
    def execute(cls, count: int) -> io.NodeOutput:
        return io.NodeOutput(list(range(count)))


class Sum(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TSum", category="testing/v3", is_input_list=True,
            inputs=[io.Int.Input("values", force_input=True)],
            outputs=[io.Int.Output()],
        )

    @classmethod
    def execute(cls, values: list[int]) -> io.NodeOutput:
        return io.NodeOutput(sum(values))


class WhoAmI(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TWhoAmI", category="testing/v3",
            inputs=[io.AnyType.Input("anything", optional=True)],
            outputs=[io.String.Output()],
            hidden=[io.Hidden.unique_id, io.Hidden.prompt, io.Hidden.extra_pnginfo],
            not_idempotent=True,
        )

    @classmethod
    def execute(cls, anything: object = None) -> io.NodeOutput:
        extra = sorted(cls.hidden.extra_pnginfo or {})
        return io.NodeOutput(f"{cls.hidden.unique_id}|{sorted(cls.hidden.prompt)}|{extra}|{cls.hidden.dynprompt}")


class Show(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TShow", display_name="Show (V3)", category="testing/v3", is_output_node=True,
            inputs=[io.AnyType.Input("value")],
        )

    @classmethod
    def execute(cls, value: object) -> io.NodeOutput:
        CALLS.append("V3TShow")
        return io.NodeOutput(ui=ui.PreviewText(repr(value)))


class Even(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TEven", category="testing/v3",
            inputs=[io.Int.Input("value", default=0), io.Combo.Input("mode", options=["keep", "halve"])],
            outputs=[io.Int.Output()],
        )

    @classmethod
    def validate_inputs(cls, value: int) -> bool | str:
        return True if value % 2 == 0 else f"value must be even, got {value}"

    @classmethod
    def execute(cls, value: int, mode: str) -> io.NodeOutput:
        return io.NodeOutput(value // 2 if mode == "halve" else value)


class Stamp(io.ComfyNode):
    """Counts its runs; fingerprint_inputs keeps it cached while `key` is unchanged."""

    runs = 0

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TStamp", category="testing/v3",
            inputs=[io.String.Input("key", default="k", multiline=True, placeholder="cache key")],
            outputs=[io.Int.Output()],
        )

    @classmethod
    def fingerprint_inputs(cls, key: str) -> str:
        return key

    @classmethod
    def execute(cls, key: str) -> io.NodeOutput:
        Stamp.runs += 1
        return io.NodeOutput(Stamp.runs)


class Gate(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TGate", category="testing/v3",
            inputs=[io.Int.Input("value", force_input=True), io.Boolean.Input("open", default=True)],
            outputs=[io.Int.Output()],
        )

    @classmethod
    def execute(cls, value: int, open: bool) -> io.NodeOutput:
        return io.NodeOutput(value, block_execution=None if open else "gate closed")


class RemotePick(io.ComfyNode):
    """A combo whose options the canvas fetches from a route: any value is accepted."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TRemotePick", category="testing/v3",
            inputs=[io.Combo.Input("name", remote=io.RemoteOptions(route="/internal/files/input", refresh_button=True)),
                    io.MultiCombo.Input("tags", options=["a", "b", "c"], default=["a"], chip=True, optional=True)],
            outputs=[io.String.Output()],
        )

    @classmethod
    def execute(cls, name: str, tags: list[str] | None = None) -> io.NodeOutput:
        return io.NodeOutput(f"{name}:{'+'.join(tags or [])}")


class PreviewGrey(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TPreviewGrey", category="testing/v3", is_output_node=True,
            inputs=[io.Float.Input("level", default=0.5, min=0.0, max=1.0)],
        )

    @classmethod
    def execute(cls, level: float) -> io.NodeOutput:
        import torch

        return io.NodeOutput(ui=ui.PreviewImage(torch.full((1, 4, 6, 3), level), cls=cls))


class SaveGrey(io.ComfyNode):
    """Saves a grey image to the output folder and previews a mask of the same level."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="V3TSaveGrey", category="testing/v3", is_output_node=True,
            inputs=[io.Float.Input("level", default=0.5), io.String.Input("filename_prefix", default="v3grey")],
            outputs=[io.Mask.Output()],
        )

    @classmethod
    def execute(cls, level: float, filename_prefix: str) -> io.NodeOutput:
        import torch

        saved = ui.ImageSaveHelper.get_save_images_ui(torch.full((2, 3, 5, 3), level), filename_prefix, cls=cls)
        mask = torch.full((1, 3, 5), level)
        preview = ui.PreviewMask(mask, cls=cls)
        return io.NodeOutput(mask, ui={"images": saved.as_dict()["images"] + preview.as_dict()["images"]})


class Join(io.ComfyNode):
    """Joins two to four strings: an autogrowing input, and a matched-type passthrough."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        same = MatchType.Template("T", [io.Int, io.Float])
        return io.Schema(
            node_id="V3TJoin", category="testing/v3",
            inputs=[AutogrowDynamic.Input("parts", template_input=io.String.Input("part", display_name="part"),
                                             min=2, max=4),
                    MatchType.Input("number", template=same, optional=True)],
            outputs=[io.String.Output(), MatchType.Output("same", template=same)],
        )

    @classmethod
    def execute(cls, number: object = None, **parts: str) -> io.NodeOutput:
        return io.NodeOutput("-".join(parts[name] for name in sorted(parts)), number)


class V3TestExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [Add, AsyncScale, LazySwitch, RepeatAdd, Range, Sum, WhoAmI, Show, Even, Stamp, Gate, RemotePick,
                PreviewGrey, SaveGrey, Join]


async def comfy_entrypoint() -> ComfyExtension:
    return V3TestExtension()
