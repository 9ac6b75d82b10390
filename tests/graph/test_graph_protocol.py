"""Node protocol details: native lazy hooks, async hooks, V1 instances, expansion helpers, progress API."""

import asyncio
from typing import Annotated, ClassVar

import pytest
from graph_nodes import CALLS, Harness, ran

from engine.graph import context
from engine.graph.blocker import ExecutionBlocker
from engine.graph.context import ExecutionContext, Interrupt, ProgressBar
from engine.graph.events import EventLog
from engine.graph.expansion import GraphBuilder
from engine.graph.native import Node, NodeOutput, Out, Socket, Widget, node


@node(outputs=[Out("INT")])
class NativeChoose(Node):
    """Native lazy inputs: only the chosen branch is evaluated."""

    first: bool = True
    a: Annotated[object, Socket("INT", lazy=True)] = None
    b: Annotated[int, Widget(lazy=True)] = 0

    def check_lazy_status(self, ctx):
        return ["a"] if self.first else ["b"]

    def run(self, ctx):
        ran()
        return (self.a if self.first else self.b,)


class AsyncHooks:
    """V1 node whose IS_CHANGED, VALIDATE_INPUTS, check_lazy_status and FUNCTION are all coroutines."""

    RETURN_TYPES = ("INT",)
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"n": ("INT", {"default": 1}), "x": ("INT", {"lazy": True})}}

    @classmethod
    async def IS_CHANGED(cls, n):
        await asyncio.sleep(0)
        return n

    @classmethod
    async def VALIDATE_INPUTS(cls, n):
        await asyncio.sleep(0)
        return True if n >= 0 else "n must not be negative"

    async def check_lazy_status(self, n, x=None):
        await asyncio.sleep(0)
        return ["x"]

    async def go(self, n, x=None):
        await asyncio.sleep(0)
        ran()
        return (n + x,)


class Counter:
    """V1 instances persist per node id between runs (ComfyUI's objects cache)."""

    RETURN_TYPES = ("INT",)
    FUNCTION = "count"
    NOT_IDEMPOTENT = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seed": ("INT", {"default": 0})}}

    @classmethod
    def IS_CHANGED(cls, seed):
        return float("nan")

    def __init__(self):
        self.calls = 0

    def count(self, seed):
        self.calls += 1
        return (self.calls,)


class TwoOutputs:
    RETURN_TYPES = ("INT", "INT")
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def go(self):
        return (1,)


class SeesConstants:
    """Records what IS_CHANGED was given."""

    SEEN: ClassVar[list] = []
    RETURN_TYPES = ("INT",)
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",), "n": ("INT", {"default": 4})}}

    @classmethod
    def IS_CHANGED(cls, x, n):
        cls.SEEN.append((x, n))
        return n

    def go(self, x, n):
        return (x + n,)


class UiOnly:
    """Declares an output but returns only UI data: as in ComfyUI, readers of the output get None."""

    RETURN_TYPES = ("INT",)
    FUNCTION = "go"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def go(self):
        return {"ui": {"text": ["hi"]}}


class SelfLoop:
    """Expands into a node that links to itself."""

    RETURN_TYPES = ("INT",)
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}}

    def go(self):
        graph = GraphBuilder()
        loop = graph.node("Add", id="loop", b=1)
        loop.set_input("a", loop.out(0))
        return {"result": (loop.out(0),), "expand": graph.finalize()}


@node(outputs=[Out("INT")])
class AsyncFail(Node):
    async def run(self, ctx):
        await asyncio.sleep(0)
        raise RuntimeError("async failure")


@node(output_node=True)
class Preview(Node):
    steps: int = 2

    def run(self, ctx):
        for i in range(self.steps):
            ctx.progress(i + 1, self.steps, preview=("PNG", b"img", 512))
        return NodeOutput(ui={"images": [{"filename": "x.png"}]})


class OddBlocker:
    """Blocks odd items silently: only those list elements are skipped downstream."""

    RETURN_TYPES = ("INT",)
    FUNCTION = "go"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",)}}

    def go(self, x):
        return (ExecutionBlocker(None) if x % 2 else x,)


class Inspect:
    """Receives a raw link, the live dynamic prompt and any undeclared linked inputs."""

    RETURN_TYPES = ()
    FUNCTION = "go"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"raw": ("INT", {"rawLink": True})}, "hidden": {"dyn": "DYNPROMPT"}}

    def go(self, raw, dyn, **extra):
        return {"ui": {"raw": [raw], "real": [dyn.get_real_node_id("i")], "extra": [sorted(extra.items())]}}


@pytest.fixture
def h():
    harness = Harness()
    for cls in (NativeChoose, Preview, AsyncFail):
        harness.registry.register(cls)
    for cls in (AsyncHooks, Counter, TwoOutputs, SelfLoop, OddBlocker, Inspect, UiOnly, SeesConstants):
        harness.registry.register(cls)
    return harness


def record(prompt, source):
    prompt["out"] = {"class_type": "Record", "inputs": {"value": [source, 0]}}
    return prompt


def test_native_lazy_inputs_follow_check_lazy_status(h):
    prompt = record({"a": {"class_type": "Const", "inputs": {"value": 5}},
                     "c": {"class_type": "NativeChoose", "inputs": {"first": False, "a": ["a", 0], "b": 9}}}, "c")
    result = h.run(prompt)
    assert result.outputs["out"] == {"value": [9]}
    assert "a" not in CALLS
    prompt["c"]["inputs"]["first"] = True
    assert h.run(prompt).outputs["out"] == {"value": [5]}
    assert CALLS[:2] == ["a", "c"]


def test_async_hooks_are_awaited(h):
    prompt = record({"x": {"class_type": "Const", "inputs": {"value": 2}},
                     "n": {"class_type": "AsyncHooks", "inputs": {"n": 3, "x": ["x", 0]}}}, "n")
    assert h.run(prompt).outputs["out"] == {"value": [5]}
    h.run(prompt)
    assert CALLS == []
    prompt["n"]["inputs"]["n"] = -1
    result = h.run(prompt)
    assert result.node_errors["n"]["errors"][0]["details"] == "n must not be negative"


def test_v1_instance_persists_between_runs_of_the_same_node(h):
    prompt = record({"c": {"class_type": "Counter", "inputs": {"seed": 0}}}, "c")
    assert h.run(prompt).outputs["out"] == {"value": [1]}
    assert h.run(prompt).outputs["out"] == {"value": [2]}


def test_node_returning_too_few_outputs_runs_and_its_missing_output_reads_as_none(h):
    """As in ComfyUI: the returned outputs flow on, a reader of a missing one gets None."""
    assert h.run(record({"t": {"class_type": "TwoOutputs", "inputs": {}}}, "t")).outputs["out"] == {"value": [1]}
    prompt = {"t": {"class_type": "TwoOutputs", "inputs": {}},
              "out": {"class_type": "Record", "inputs": {"value": ["t", 1]}}}
    assert h.run(prompt).outputs["out"] == {"value": [None]}


def test_is_changed_gets_constants_only_once_per_prompt(h):
    SeesConstants.SEEN.clear()
    prompt = record({"c": {"class_type": "Const", "inputs": {"value": 2}},
                     "s": {"class_type": "SeesConstants", "inputs": {"x": ["c", 0], "n": 5}}}, "s")
    assert h.run(prompt).outputs["out"] == {"value": [7]}
    assert SeesConstants.SEEN == [(None, 5)]


def test_ui_only_result_gives_readers_of_its_output_none(h):
    result = h.run(record({"u": {"class_type": "UiOnly", "inputs": {}}}, "u"))
    assert result.status == "success"
    assert result.outputs == {"u": {"text": ["hi"]}, "out": {"value": [None]}}


def test_async_node_failure_is_reported(h):
    result = h.run(record({"f": {"class_type": "AsyncFail", "inputs": {}}}, "f"))
    assert result.status == "error"
    assert result.error["node_id"] == "f"
    assert result.error["exception_type"] == "RuntimeError"
    assert result.error["exception_message"] == "async failure"


def test_expansion_into_a_cycle_is_a_dependency_cycle_error(h):
    result = h.run(record({"s": {"class_type": "SelfLoop", "inputs": {}}}, "s"))
    assert result.status == "error"
    assert result.error["exception_type"] == "engine.graph.promptgraph.DependencyCycleError"
    assert result.error["node_id"] == "s"


def test_progress_with_preview_emits_preview_events(h):
    h.run({"p": {"class_type": "Preview", "inputs": {"steps": 2}}}, prompt_id="pv")
    previews = h.log.of_type("preview")
    assert previews == [{"node": "p", "prompt_id": "pv", "image": b"img", "format": "PNG"}] * 2
    assert h.log.of_type("executed")[0]["output"] == {"images": [{"filename": "x.png"}]}


def test_graph_builder_ids_are_prefixed_and_links_point_at_outputs():
    graph = GraphBuilder(prefix="7.0.0.")
    a = graph.node("Const", value=1)
    b = graph.node("Add", a=a, b=2)
    named = graph.node("Record", id="show", value=b.out(0))
    assert named.id == "7.0.0.show"
    assert graph.finalize() == {
        "7.0.0.0": {"class_type": "Const", "inputs": {"value": 1}},
        "7.0.0.1": {"class_type": "Add", "inputs": {"a": ["7.0.0.0", 0], "b": 2}},
        "7.0.0.show": {"class_type": "Record", "inputs": {"value": ["7.0.0.1", 0]}},
    }
    assert graph.lookup_node("show") is named
    graph.remove_node("show")
    assert "7.0.0.show" not in graph.finalize()


def test_context_is_only_current_while_a_node_runs():
    assert context.current() is None
    log = EventLog()
    ctx = ExecutionContext("n1", "p1", {}, sink=log, interrupt=Interrupt())
    token = context._set_current(ctx)
    try:
        bar = ProgressBar(4)
        bar.update(3)
        bar.update(3)
        bar.update_absolute(1, total=2)
    finally:
        context._reset_current(token)
    assert [(e["value"], e["max"]) for e in log.of_type("progress")] == [(3, 4), (4, 4), (1, 2)]


def test_blocked_list_items_are_skipped_and_the_rest_flow_on(h):
    prompt = record({"r": {"class_type": "Range", "inputs": {"count": 5}},
                     "odd": {"class_type": "OddBlocker", "inputs": {"x": ["r", 0]}},
                     "add": {"class_type": "Add", "inputs": {"a": ["odd", 0], "b": 100}}}, "add")
    result = h.run(prompt)
    assert CALLS.count("add") == 3
    assert result.outputs["out"] == {"value": [100, 102, 104]}


def test_raw_link_dynprompt_and_undeclared_linked_inputs_reach_the_node(h):
    prompt = {"c": {"class_type": "Const", "inputs": {"value": 3}},
              "i": {"class_type": "Inspect", "inputs": {"raw": ["c", 0], "bonus": ["c", 0], "ignored": 5}}}
    result = h.run(prompt)
    assert result.outputs["i"] == {"raw": [["c", 0]], "real": ["i"], "extra": [[("bonus", 3)]]}


def test_input_is_list_node_is_blocked_when_any_item_is_blocked(h):
    prompt = {"r": {"class_type": "Range", "inputs": {"count": 4}},
              "odd": {"class_type": "OddBlocker", "inputs": {"x": ["r", 0]}},
              "sum": {"class_type": "V1Sum", "inputs": {"values": ["odd", 0]}},
              "out": {"class_type": "Record", "inputs": {"value": ["sum", 0]}}}
    result = h.run(prompt)
    assert result.status == "success"
    assert "sum" not in CALLS and result.outputs == {}
