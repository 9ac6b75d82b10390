"""Test nodes for the graph runtime, in both declaration styles, and helpers to run prompts with them."""

from __future__ import annotations

import asyncio
import time
import types
from typing import Annotated, Literal

from pydantic import Field

from engine.graph import context
from engine.graph.blocker import ExecutionBlocker
from engine.graph.events import EventLog
from engine.graph.executor import Executor
from engine.graph.expansion import GraphBuilder
from engine.graph.native import Combo, Node, NodeOutput, Out, Socket, Widget, node
from engine.graph.registry import NodeRegistry

CALLS: list[str] = []          # node ids in the order their functions ran
SLEEPS: dict[str, tuple[float, float]] = {}   # node id -> (start, end) of async sleeps
FINGERPRINTS = {"value": "a"}  # what V1Fingerprint.IS_CHANGED returns


def ran(tag: str | None = None) -> None:
    ctx = context.current()
    CALLS.append(tag or ctx.node_id)


# -- native nodes ---------------------------------------------------------------------------------
@node(category="test", outputs=[Out("INT", tooltip="the value")], aliases=["ConstAlias"])
class Const(Node):
    """A constant integer."""

    value: Annotated[int, Widget(step=1, control_after_generate=True)] = Field(0, ge=0, le=100)

    def run(self, ctx):
        ran()
        return (self.value,)


@node(category="test", outputs=[Out("INT")])
class Add(Node):
    a: Annotated[object, Socket("INT")]
    b: int = 1

    def run(self, ctx):
        ran()
        return (self.a + self.b,)


@node(category="test", output_node=True)
class Record(Node):
    """Output node: shows whatever it receives."""

    value: Annotated[object, Socket("*")]

    def run(self, ctx):
        ran()
        return NodeOutput(ui={"value": [self.value]})


@node(category="test", outputs=[Out("INT")])
class Fail(Node):
    a: Annotated[object, Socket("INT")]

    def run(self, ctx):
        ran()
        raise ValueError(f"boom at {self.a}")


@node(category="test", outputs=[Out("FLOAT")])
class Sleep(Node):
    seconds: float = Field(0.3, ge=0, le=5)
    tag: str = ""

    async def run(self, ctx):
        start = time.perf_counter()
        await asyncio.sleep(self.seconds)
        SLEEPS[ctx.node_id] = (start, time.perf_counter())
        ran()
        return (self.seconds,)


@node(category="test", outputs=[Out("INT", is_list=True)])
class Range(Node):
    count: int = Field(3, ge=0, le=50)

    def run(self, ctx):
        ran()
        return (list(range(self.count)),)


@node(category="test", outputs=[Out("INT")])
class Steps(Node):
    """Reports progress once per step."""

    steps: int = Field(3, ge=1, le=100)

    def run(self, ctx):
        ran()
        for i in range(self.steps):
            ctx.progress(i + 1, self.steps)
        return (self.steps,)


@node(category="test", outputs=[Out("STRING")])
class Pick(Node):
    mode: Literal["fast", "slow"] = "fast"
    ckpt: Annotated[str, Combo(lambda folders: folders.list("checkpoints") if folders else ["none.safetensors"])] = ""

    level: int = Field(0, ge=0, le=10)

    @classmethod
    def validate_inputs(cls, level):
        """Claims `level`: its own rule replaces the min/max check."""
        return True if level != 13 else "level 13 is unlucky"

    def run(self, ctx):
        ran()
        return (f"{self.mode}:{self.ckpt}",)


# -- V1 nodes -------------------------------------------------------------------------------------
class V1Scale:
    DESCRIPTION = "Multiply an integer."
    CATEGORY = "test/v1"
    RETURN_TYPES = ("INT",)
    RETURN_NAMES = ("scaled",)
    FUNCTION = "scale"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT", {"forceInput": True}), "factor": ("FLOAT", {"default": 2.0, "min": 0.0,
                                                                                     "max": 10.0, "step": 0.5})}}

    def scale(self, x, factor):
        ran()
        return (int(x * factor),)


class V1Switch:
    CATEGORY = "test/v1"
    RETURN_TYPES = ("INT",)
    FUNCTION = "switch"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"use_a": ("BOOLEAN", {"default": True}), "a": ("INT", {"lazy": True}),
                             "b": ("INT", {"lazy": True})}}

    def check_lazy_status(self, use_a, a=None, b=None):
        return ["a"] if use_a else ["b"]

    def switch(self, use_a, a=None, b=None):
        ran()
        return (a if use_a else b,)


class V1Sum:
    CATEGORY = "test/v1"
    INPUT_IS_LIST = True
    RETURN_TYPES = ("INT",)
    FUNCTION = "total"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"values": ("INT",)}}

    def total(self, values):
        ran()
        return (sum(values),)


class V1Fingerprint:
    CATEGORY = "test/v1"
    RETURN_TYPES = ("STRING",)
    FUNCTION = "read"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"name": ("STRING", {"default": "file"})}}

    @classmethod
    def IS_CHANGED(cls, name):
        value = FINGERPRINTS["value"]
        if value == "raise":
            raise OSError("cannot read")
        return value

    def read(self, name):
        ran()
        return (f"{name}:{FINGERPRINTS['value']}",)


class V1Unique:
    CATEGORY = "test/v1"
    RETURN_TYPES = ("INT",)
    FUNCTION = "go"
    NOT_IDEMPOTENT = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1})}}

    def go(self, value):
        ran()
        return (value,)


class V1Hidden:
    CATEGORY = "test/v1"
    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",)},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO", "unique_id": "UNIQUE_ID"}}

    def show(self, value, prompt, extra_pnginfo, unique_id):
        ran()
        return {"ui": {"value": [value], "classes": sorted(n["class_type"] for n in prompt.values()),
                       "workflow": [extra_pnginfo], "unique_id": [unique_id]}}


class V1Repeat:
    """Expands into a chain of `times` Add nodes starting from `x`."""

    CATEGORY = "test/v1"
    RETURN_TYPES = ("INT",)
    FUNCTION = "expand"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",), "times": ("INT", {"default": 2, "min": 1, "max": 10})}}

    def expand(self, x, times):
        ran()
        graph = GraphBuilder()
        current = graph.node("Const", value=x)
        for _ in range(times):
            current = graph.node("Add", a=current.out(0), b=1)
        graph.node("Record", value=current.out(0))
        return {"result": (current.out(0),), "expand": graph.finalize()}


class V1Gate:
    CATEGORY = "test/v1"
    RETURN_TYPES = ("INT",)
    FUNCTION = "gate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"x": ("INT",), "mode": (["pass", "silent", "loud"],)}}

    def gate(self, x, mode):
        ran()
        if mode == "pass":
            return (x,)
        return (ExecutionBlocker(None if mode == "silent" else "gate closed"),)


class V1Slow:
    CATEGORY = "test/v1"
    RETURN_TYPES = ("INT",)
    FUNCTION = "work"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 4})}}

    def work(self, steps):
        ran()
        bar = context.ProgressBar(steps)
        for _ in range(steps):
            bar.update(1)
        return (steps,)


V1_NODES = {
    "V1Scale": V1Scale, "V1Switch": V1Switch, "V1Sum": V1Sum, "V1Fingerprint": V1Fingerprint,
    "V1Unique": V1Unique, "V1Hidden": V1Hidden, "V1Repeat": V1Repeat, "V1Gate": V1Gate, "V1Slow": V1Slow,
}
NATIVE_NODES = [Const, Add, Record, Fail, Sleep, Range, Steps, Pick]


def make_registry(services=None) -> NodeRegistry:
    module = types.ModuleType("graph_test_nodes")
    for cls in NATIVE_NODES:
        setattr(module, cls.__name__, cls)
    module.NODE_CLASS_MAPPINGS = V1_NODES
    module.NODE_DISPLAY_NAME_MAPPINGS = {"V1Scale": "Scale (V1)"}
    registry = NodeRegistry(services)
    registry.register_module(module)
    return registry


class Harness:
    """An executor over the test registry that records events and resets the call log per run."""

    def __init__(self, **executor_kwargs):
        self.registry = make_registry()
        self.executor = Executor(self.registry, **executor_kwargs)
        self.log = EventLog()

    def run(self, prompt: dict, **kwargs):
        CALLS.clear()
        self.log = EventLog()
        return self.executor.run(prompt, kwargs.pop("prompt_id", "p"), self.log, **kwargs)


def chain(length: int, value: int = 0) -> dict:
    """Const -> Add x (length-1) -> Record, ids "0".."length"."""
    prompt = {"0": {"class_type": "Const", "inputs": {"value": value}}}
    for i in range(1, length):
        prompt[str(i)] = {"class_type": "Add", "inputs": {"a": [str(i - 1), 0], "b": 1}}
    prompt[str(length)] = {"class_type": "Record", "inputs": {"value": [str(length - 1), 0]}}
    return prompt


