"""Executor overhead on trivial nodes: a 1,000-node chain and a 200-wide fan-out.

Prints the cold run time per node, the fully cached re-run time and the one-widget-changed re-run time, as wall
time and as this process's CPU time (on a shared machine the wall time mostly measures the other processes).
Run: `python benchmarks/executor.py` (issue 16's targets: cold <= 50 µs per node on the 1,000-node chain, a
fully cached 1,000-node fan-out re-run <= 20 ms). The targets are measured through the server (HTTP and the
websocket, core nodes): `python benchmarks/server_executor.py` takes those figures next to this in-process path.
"""

from __future__ import annotations

import statistics
import sys
import time
import types
from pathlib import Path
from typing import Annotated

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.graph.executor import Executor
from engine.graph.native import Node, NodeOutput, Out, Socket, node
from engine.graph.registry import NodeRegistry


@node(outputs=[Out("INT")])
class BenchSeed(Node):
    value: int = 0

    def run(self, ctx):
        return (self.value,)


@node(outputs=[Out("INT")])
class BenchAdd(Node):
    a: Annotated[object, Socket("INT")]
    b: int = 1

    def run(self, ctx):
        return (self.a + self.b,)


class BenchSink:
    """A V1 output node, so both declaration styles are on the measured path."""

    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",)}}

    def show(self, value):
        return NodeOutput(ui={"value": [value]})


def registry() -> NodeRegistry:
    module = types.ModuleType("bench_nodes")
    module.BenchSeed, module.BenchAdd = BenchSeed, BenchAdd
    module.NODE_CLASS_MAPPINGS = {"BenchSink": BenchSink}
    reg = NodeRegistry()
    reg.register_module(module)
    return reg


def chain(n: int) -> tuple[dict, str]:
    """Seed -> Add x (n-2) -> Sink: n nodes; returns the prompt and the middle node's id."""
    prompt = {"0": {"class_type": "BenchSeed", "inputs": {"value": 0}}}
    for i in range(1, n - 1):
        prompt[str(i)] = {"class_type": "BenchAdd", "inputs": {"a": [str(i - 1), 0], "b": 1}}
    prompt[str(n - 1)] = {"class_type": "BenchSink", "inputs": {"value": [str(n - 2), 0]}}
    return prompt, str(n // 2)


def fan_out(width: int) -> tuple[dict, str]:
    """One seed feeding `width` Add nodes, each with its own Sink: 2 * width + 1 nodes."""
    prompt = {"seed": {"class_type": "BenchSeed", "inputs": {"value": 0}}}
    for i in range(width):
        prompt[f"a{i}"] = {"class_type": "BenchAdd", "inputs": {"a": ["seed", 0], "b": i}}
        prompt[f"s{i}"] = {"class_type": "BenchSink", "inputs": {"value": [f"a{i}", 0]}}
    return prompt, "a0"


def timed(executor: Executor, prompt: dict) -> tuple[float, int, float]:
    """(wall seconds, nodes executed, CPU seconds) of one run."""
    start, cpu = time.perf_counter(), time.process_time()
    result = executor.run(prompt, "bench")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert result.status == "success", result.error
    return elapsed, len(result.executed), cpu


def measure(name: str, prompt: dict, changed: str, repeats: int = 7) -> None:
    reg = registry()
    nodes = len(prompt)
    cold, cached, changed_runs, changed_executed = [], [], [], 0
    for _ in range(repeats):
        executor = Executor(reg)
        cold.append(timed(executor, prompt))
        cached.append(timed(executor, prompt))
        prompt[changed]["inputs"]["b"] += 1000
        changed_runs.append(timed(executor, prompt))
        changed_executed = changed_runs[-1][1]
    print(f"{name} ({nodes} nodes; median and best of {repeats} runs; wall time, then CPU time)")
    for label, runs in (("cold run", cold), ("fully cached", cached), ("one widget changed", changed_runs)):
        line = f"  {label + ':':20s}"
        for clock in (0, 2):
            values = [run[clock] for run in runs]
            median, best = statistics.median(values), min(values)
            line += f"{median * 1e3:8.2f} ms (best {best * 1e3:6.2f})"
            if runs is cold:
                line += f" = {median / nodes * 1e6:5.1f} µs/node"
        if runs is changed_runs:
            line += f"  ({changed_executed} nodes re-ran)"
        print(line)


def main() -> None:
    measure("chain", *chain(1000))
    measure("fan-out", *fan_out(500))


if __name__ == "__main__":
    main()
