"""Executor behaviour: what runs, in which order, with which inputs, and what the events say."""

import threading

import pytest
from graph_nodes import CALLS, SLEEPS, Harness, chain

from engine.graph.context import Interrupt


@pytest.fixture
def h():
    return Harness()


def test_runs_only_what_requested_outputs_need(h):
    prompt = chain(3)
    prompt["unused"] = {"class_type": "Const", "inputs": {"value": 9}}
    prompt["unused_add"] = {"class_type": "Add", "inputs": {"a": ["unused", 0], "b": 1}}
    result = h.run(prompt)
    assert result.status == "success"
    assert CALLS == ["0", "1", "2", "3"]
    assert result.outputs == {"3": {"value": [2]}}


def test_sources_run_before_consumers_in_a_diamond(h):
    prompt = {
        "src": {"class_type": "Const", "inputs": {"value": 1}},
        "left": {"class_type": "Add", "inputs": {"a": ["src", 0], "b": 10}},
        "right": {"class_type": "V1Scale", "inputs": {"x": ["src", 0], "factor": 3}},
        "join": {"class_type": "Add", "inputs": {"a": ["left", 0], "b": 0}},
        "out1": {"class_type": "Record", "inputs": {"value": ["join", 0]}},
        "out2": {"class_type": "Record", "inputs": {"value": ["right", 0]}},
    }
    result = h.run(prompt)
    order = {n: i for i, n in enumerate(CALLS)}
    assert order["src"] < order["left"] < order["join"] < order["out1"]
    assert order["src"] < order["right"] < order["out2"]
    assert result.outputs == {"out1": {"value": [11]}, "out2": {"value": [3]}}
    assert sorted(result.executed) == sorted(prompt)
    assert set(result.timings) == set(prompt)


def test_explicit_targets_run_only_their_ancestry(h):
    prompt = chain(2)
    prompt["other"] = {"class_type": "Record", "inputs": {"value": ["0", 0]}}
    result = h.run(prompt, targets=["other"])
    assert CALLS == ["0", "other"]
    assert list(result.outputs) == ["other"]


def test_target_may_be_a_non_output_node(h):
    result = h.run(chain(3), targets=["1"])
    assert result.status == "success"
    assert CALLS == ["0", "1"]


def test_lazy_input_is_evaluated_only_when_asked_for(h):
    prompt = {
        "a": {"class_type": "Const", "inputs": {"value": 1}},
        "b": {"class_type": "Const", "inputs": {"value": 2}},
        "sw": {"class_type": "V1Switch", "inputs": {"use_a": False, "a": ["a", 0], "b": ["b", 0]}},
        "out": {"class_type": "Record", "inputs": {"value": ["sw", 0]}},
    }
    result = h.run(prompt)
    assert result.outputs["out"] == {"value": [2]}
    assert "a" not in CALLS
    assert CALLS.index("b") < CALLS.index("sw")


def test_list_output_maps_downstream_node_over_items(h):
    prompt = {
        "r": {"class_type": "Range", "inputs": {"count": 3}},
        "add": {"class_type": "Add", "inputs": {"a": ["r", 0], "b": 10}},
        "out": {"class_type": "Record", "inputs": {"value": ["add", 0]}},
    }
    result = h.run(prompt)
    assert CALLS.count("add") == 3
    assert result.outputs["out"] == {"value": [10, 11, 12]}


def test_shorter_list_repeats_its_last_item(h):
    prompt = {
        "r3": {"class_type": "Range", "inputs": {"count": 3}},
        "r2": {"class_type": "Range", "inputs": {"count": 2}},
        "add": {"class_type": "Add", "inputs": {"a": ["r3", 0], "b": ["r2", 0]}},
        "out": {"class_type": "Record", "inputs": {"value": ["add", 0]}},
    }
    assert h.run(prompt).outputs["out"] == {"value": [0, 2, 3]}


def test_input_is_list_node_gets_the_whole_list_once(h):
    prompt = {
        "r": {"class_type": "Range", "inputs": {"count": 4}},
        "sum": {"class_type": "V1Sum", "inputs": {"values": ["r", 0]}},
        "out": {"class_type": "Record", "inputs": {"value": ["sum", 0]}},
    }
    result = h.run(prompt)
    assert CALLS.count("sum") == 1
    assert result.outputs["out"] == {"value": [6]}


def test_empty_list_input_skips_the_consumer(h):
    prompt = {
        "r": {"class_type": "Range", "inputs": {"count": 0}},
        "add": {"class_type": "Add", "inputs": {"a": ["r", 0], "b": 1}},
        "out": {"class_type": "Record", "inputs": {"value": ["add", 0]}},
    }
    result = h.run(prompt)
    assert result.status == "success"
    assert "out" not in CALLS


def test_expansion_runs_the_subgraph_with_deterministic_ids(h):
    prompt = {
        "x": {"class_type": "Const", "inputs": {"value": 5}},
        "rep": {"class_type": "V1Repeat", "inputs": {"x": ["x", 0], "times": 3}},
        "out": {"class_type": "Record", "inputs": {"value": ["rep", 0]}},
    }
    result = h.run(prompt)
    assert result.status == "success", result.error
    assert result.outputs["out"] == {"value": [8]}
    created = [n for n in CALLS if n.startswith("rep.")]
    assert created == ["rep.0.0.1", "rep.0.0.2", "rep.0.0.3", "rep.0.0.4"]
    assert "rep.0.0.0" in result.cached  # Const(5) has the same signature as node "x"
    assert result.outputs["rep.0.0.4"] == {"value": [8]}
    assert result.meta["rep.0.0.4"]["display_node"] == "rep"
    assert result.meta["rep.0.0.4"]["real_node_id"] == "rep"


def test_hidden_inputs_carry_prompt_pnginfo_and_node_id(h):
    prompt = {
        "c": {"class_type": "Const", "inputs": {"value": 3}},
        "show": {"class_type": "V1Hidden", "inputs": {"value": ["c", 0]}},
    }
    result = h.run(prompt, extra_data={"extra_pnginfo": {"workflow": {"nodes": []}}})
    assert result.outputs["show"] == {"value": [3], "classes": ["Const", "V1Hidden"],
                                      "workflow": [{"workflow": {"nodes": []}}], "unique_id": ["show"]}


def test_async_nodes_in_one_prompt_overlap(h):
    prompt = {f"s{i}": {"class_type": "Sleep", "inputs": {"seconds": 0.3, "tag": str(i)}} for i in range(3)}
    prompt.update({f"out{i}": {"class_type": "Record", "inputs": {"value": [f"s{i}", 0]}} for i in range(3)})
    SLEEPS.clear()
    result = h.run(prompt)
    assert result.status == "success"
    spans = [SLEEPS[f"s{i}"] for i in range(3)]
    latest_start = max(start for start, _ in spans)
    earliest_end = min(end for _, end in spans)
    assert latest_start < earliest_end, "the three sleeps did not run concurrently"
    assert all(result.outputs[f"out{i}"] == {"value": [0.3]} for i in range(3))


def gated_prompt(mode: str) -> dict:
    """Const -> V1Gate closed in `mode` ("silent" or "loud") -> Add -> Record."""
    return {
        "c": {"class_type": "Const", "inputs": {"value": 1}},
        "gate": {"class_type": "V1Gate", "inputs": {"x": ["c", 0], "mode": mode}},
        "after": {"class_type": "Add", "inputs": {"a": ["gate", 0], "b": 1}},
        "out": {"class_type": "Record", "inputs": {"value": ["after", 0]}},
    }


def test_silent_blocker_skips_downstream_without_error(h):
    result = h.run(gated_prompt("silent"))
    assert result.status == "success"
    assert "after" not in CALLS and "out" not in CALLS
    assert result.outputs == {}
    assert h.log.of_type("execution_error") == []


def test_loud_blocker_reports_an_error_for_the_blocked_node(h):
    result = h.run(gated_prompt("loud"))
    assert "after" not in CALLS and "out" not in CALLS
    errors = h.log.of_type("execution_error")
    assert [e["node_id"] for e in errors] == ["after"]
    assert errors[0]["exception_message"] == "Execution Blocked: gate closed"
    assert result.blocked == {"after": "gate closed"}


def test_node_exception_reports_node_class_type_traceback_and_inputs(h):
    prompt = {
        "c": {"class_type": "Const", "inputs": {"value": 7}},
        "bad": {"class_type": "Fail", "inputs": {"a": ["c", 0]}},
        "out": {"class_type": "Record", "inputs": {"value": ["bad", 0]}},
    }
    result = h.run(prompt, prompt_id="err")
    assert result.status == "error"
    [event] = h.log.of_type("execution_error")
    assert event == result.error
    assert event["node_id"] == "bad" and event["node_type"] == "Fail"
    assert event["exception_type"] == "ValueError"
    assert event["exception_message"] == "boom at 7"
    assert event["current_inputs"] == {"a": ["7"]}
    assert event["executed"] == ["c"]
    assert event["prompt_id"] == "err"
    assert any("boom at" in line for line in event["traceback"])
    assert "out" not in CALLS
    assert h.log.types()[-1] == "executing" and h.log.events[-1].data["node"] is None


def test_event_sequence_of_a_successful_run(h):
    h.run(chain(2), prompt_id="seq")
    types = h.log.types()
    assert types[:2] == ["execution_start", "execution_cached"]
    assert types[-2:] == ["execution_success", "executing"]
    executing = [e["node"] for e in h.log.of_type("executing")]
    assert executing == ["0", "1", "2", None]
    [executed] = h.log.of_type("executed")
    assert executed == {"node": "2", "display_node": "2", "output": {"value": [1]}, "prompt_id": "seq"}
    assert all(e.data["prompt_id"] == "seq" for e in h.log.events)


def test_progress_events_come_from_native_and_v1_nodes(h):
    prompt = {
        "n": {"class_type": "Steps", "inputs": {"steps": 3}},
        "v": {"class_type": "V1Slow", "inputs": {"steps": 2}},
        "o1": {"class_type": "Record", "inputs": {"value": ["n", 0]}},
        "o2": {"class_type": "Record", "inputs": {"value": ["v", 0]}},
    }
    h.run(prompt, prompt_id="pr")
    progress = h.log.of_type("progress")
    assert [(p["node"], p["value"], p["max"]) for p in progress if p["node"] == "n"] == [
        ("n", 1, 3), ("n", 2, 3), ("n", 3, 3)]
    assert [(p["value"], p["max"]) for p in progress if p["node"] == "v"] == [(1, 2), (2, 2)]


class _InterruptAfter:
    """A sink that sets the interrupt when a chosen event arrives."""

    def __init__(self, interrupt, event_type, node=None):
        self.interrupt, self.event_type, self.node = interrupt, event_type, node

    def __call__(self, event):
        if event.type == self.event_type and (self.node is None or event.data.get("node") == self.node):
            self.interrupt.set()


def test_interrupt_between_nodes_stops_before_the_next_node(h):
    interrupt = Interrupt()
    sink = _InterruptAfter(interrupt, "executing", node="1")
    CALLS.clear()
    result = h.executor.run(chain(4), "int", sink, interrupt=interrupt)
    assert result.status == "interrupted"
    assert CALLS == ["0", "1"]


def test_interrupt_lands_at_a_progress_update(h):
    interrupt = Interrupt()
    events = []

    def sink(event):
        events.append(event)
        if event.type == "progress" and event.data["value"] == 1:
            interrupt.set()

    prompt = {"n": {"class_type": "Steps", "inputs": {"steps": 5}}, "o": {"class_type": "Record",
                                                                          "inputs": {"value": ["n", 0]}}}
    result = h.executor.run(prompt, "int2", sink, interrupt=interrupt)
    assert result.status == "interrupted"
    assert [e.data["value"] for e in events if e.type == "progress"] == [1]
    [data] = [e.data for e in events if e.type == "execution_interrupted"]
    assert data["node_id"] == "n" and data["node_type"] == "Steps" and data["prompt_id"] == "int2"


def test_interrupt_while_async_nodes_wait_cancels_them(h):
    interrupt = Interrupt()
    prompt = {"s": {"class_type": "Sleep", "inputs": {"seconds": 5.0, "tag": ""}},
              "o": {"class_type": "Record", "inputs": {"value": ["s", 0]}}}

    def sink(event):
        if event.type == "executing" and event.data["node"] == "s":
            threading.Timer(0.05, interrupt.set).start()

    SLEEPS.clear()
    result = h.executor.run(prompt, "int3", sink, interrupt=interrupt)
    assert result.status == "interrupted"
    assert "s" not in SLEEPS and result.executed == []


def test_a_stale_interrupt_from_before_the_prompt_is_cleared(h):
    interrupt = Interrupt()
    interrupt.set()
    assert h.run(chain(2), interrupt=interrupt).status == "success"


def test_result_repr_is_a_summary_whatever_the_outputs(h):
    """asyncio.run formats the result when it restores SIGINT: a full repr made headless runs pay per output."""
    prompt = {"c": {"class_type": "Const", "inputs": {"value": 1}}}
    prompt.update({f"r{i}": {"class_type": "Record", "inputs": {"value": ["c", 0]}} for i in range(300)})
    result = h.run(prompt, prompt_id="big")
    assert len(result.outputs) == 300
    assert repr(result) == "ExecutionResult('big', 'success', 300 outputs, 2 executed, 299 cached)"
