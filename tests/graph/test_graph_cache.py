"""Output cache: what a re-run reuses, under each policy, and the hooks for memory-pressure eviction."""

import copy
import weakref
from typing import Annotated

import pytest
from graph_nodes import CALLS, FINGERPRINTS, Harness, chain

from engine.graph.cache import CacheEntry, CachePolicy, OutputCache, default_nbytes, keep_under
from engine.graph.native import Node as NativeNode
from engine.graph.native import NodeOutput, Out, Socket, node

MADE: list[weakref.ref] = []


class Payload:
    """An output object whose lifetime the test observes."""


@node(outputs=[Out("PAYLOAD")])
class MakePayload(NativeNode):
    def run(self, ctx):
        payload = Payload()
        MADE.append(weakref.ref(payload))
        return (payload,)


@node(outputs=[Out("INT")])
class UsePayload(NativeNode):
    payload: Annotated[object, Socket("PAYLOAD")]

    def run(self, ctx):
        return (1,)


@node(output_node=True)
class PayloadAlive(NativeNode):
    """Reports whether the payload still exists when this (later) node runs."""

    after: Annotated[object, Socket("INT")]

    def run(self, ctx):
        return NodeOutput(ui={"alive": [MADE[-1]() is not None]})


@pytest.fixture
def h():
    return Harness()


@pytest.fixture(autouse=True)
def _reset_fingerprint():
    FINGERPRINTS["value"] = "a"


def test_identical_rerun_executes_nothing_and_reports_every_node_cached(h):
    prompt = chain(4)
    h.run(prompt)
    result = h.run(prompt)
    assert CALLS == []
    assert result.executed == []
    assert sorted(result.cached) == sorted(prompt)
    [cached] = h.log.of_type("execution_cached")
    assert sorted(cached["nodes"]) == sorted(prompt)
    assert result.outputs == {"4": {"value": [3]}}
    assert [e["node"] for e in h.log.of_type("executed")] == ["4"]


def test_changed_widget_reruns_only_its_descendants(h):
    prompt = chain(6)
    h.run(prompt)
    prompt["3"]["inputs"]["b"] = 5
    result = h.run(prompt)
    assert CALLS == ["3", "4", "5", "6"]
    assert sorted(result.cached) == ["0", "1", "2"]
    assert result.outputs["6"] == {"value": [9]}


def test_renumbered_identical_graph_hits_the_cache(h):
    h.run(chain(3))
    renamed = {f"n{k}": {"class_type": v["class_type"],
                         "inputs": {name: [f"n{x[0]}", x[1]] if isinstance(x, list) else x
                                    for name, x in v["inputs"].items()}}
               for k, v in chain(3).items()}
    h.run(renamed)
    assert CALLS == []


def test_inputs_listed_in_another_order_hit_the_cache_but_swapped_links_do_not(h):
    def prompt(inputs):
        return {"x": {"class_type": "Const", "inputs": {"value": 1}},
                "y": {"class_type": "Const", "inputs": {"value": 5}},
                "add": {"class_type": "Add", "inputs": inputs},
                "out": {"class_type": "Record", "inputs": {"value": ["add", 0]}}}

    h.run(prompt({"a": ["x", 0], "b": ["y", 0]}))
    h.run(prompt({"b": ["y", 0], "a": ["x", 0]}))
    assert CALLS == []
    result = h.run(prompt({"a": ["y", 0], "b": ["x", 0]}))
    assert CALLS == ["add", "out"]
    assert result.outputs["out"] == {"value": [6]}


def test_is_changed_value_change_reruns_the_node(h):
    prompt = {"f": {"class_type": "V1Fingerprint", "inputs": {"name": "x"}},
              "o": {"class_type": "Record", "inputs": {"value": ["f", 0]}}}
    h.run(prompt)
    h.run(prompt)
    assert CALLS == []
    FINGERPRINTS["value"] = "b"
    result = h.run(prompt)
    assert CALLS == ["f", "o"]
    assert result.outputs["o"] == {"value": ["x:b"]}


def test_is_changed_nan_always_reruns(h):
    FINGERPRINTS["value"] = float("nan")
    prompt = {"f": {"class_type": "V1Fingerprint", "inputs": {"name": "x"}},
              "o": {"class_type": "Record", "inputs": {"value": ["f", 0]}}}
    h.run(prompt)
    h.run(prompt)
    assert CALLS == ["f", "o"]


def test_is_changed_exception_counts_as_nan(h):
    FINGERPRINTS["value"] = "raise"
    prompt = {"f": {"class_type": "V1Fingerprint", "inputs": {"name": "x"}},
              "o": {"class_type": "Record", "inputs": {"value": ["f", 0]}}}
    h.run(prompt)
    result = h.run(prompt)
    assert result.status == "success"
    assert CALLS == ["f", "o"]


def test_identical_nodes_share_outputs_unless_not_idempotent(h):
    prompt = {
        "a": {"class_type": "Const", "inputs": {"value": 4}},
        "b": {"class_type": "Const", "inputs": {"value": 4}},
        "u1": {"class_type": "V1Unique", "inputs": {"value": 4}},
        "u2": {"class_type": "V1Unique", "inputs": {"value": 4}},
        "oa": {"class_type": "Record", "inputs": {"value": ["a", 0]}},
        "ob": {"class_type": "Record", "inputs": {"value": ["b", 0]}},
        "o1": {"class_type": "Record", "inputs": {"value": ["u1", 0]}},
        "o2": {"class_type": "Record", "inputs": {"value": ["u2", 0]}},
    }
    h.run(prompt)
    assert CALLS.count("a") + CALLS.count("b") == 1
    assert "u1" in CALLS and "u2" in CALLS


def test_failed_node_keeps_upstream_outputs_cached(h):
    prompt = chain(3)
    prompt["3"] = {"class_type": "Fail", "inputs": {"a": ["2", 0]}}
    prompt["4"] = {"class_type": "Record", "inputs": {"value": ["3", 0]}}
    assert h.run(prompt).status == "error"
    prompt["3"] = {"class_type": "Add", "inputs": {"a": ["2", 0], "b": 1}}
    result = h.run(prompt)
    assert result.status == "success"
    assert CALLS == ["3", "4"]


def test_rerun_of_an_expanded_node_is_fully_cached(h):
    prompt = {
        "x": {"class_type": "Const", "inputs": {"value": 2}},
        "rep": {"class_type": "V1Repeat", "inputs": {"x": ["x", 0], "times": 2}},
        "out": {"class_type": "Record", "inputs": {"value": ["rep", 0]}},
    }
    h.run(prompt)
    result = h.run(prompt)
    assert CALLS == []
    assert result.outputs["out"] == {"value": [4]}


def test_classic_policy_keeps_only_the_last_prompts_entries(h):
    a, b = chain(2, value=1), chain(2, value=2)
    h.run(a)
    h.run(b)
    h.run(a)
    assert CALLS == ["0", "1", "2"]


def test_lru_policy_keeps_entries_across_prompts():
    h = Harness(cache=CachePolicy.lru(100))
    a, b = chain(2, value=1), chain(2, value=2)
    h.run(a)
    h.run(b)
    h.run(a)
    assert CALLS == []


def test_lru_policy_evicts_least_recently_used_beyond_its_size():
    h = Harness(cache=CachePolicy.lru(3))
    a, b = chain(2, value=1), chain(2, value=2)
    h.run(a)
    h.run(b)
    assert len(h.executor.cache) == 3
    h.run(a)
    assert CALLS == ["0", "1", "2"]


def test_none_policy_never_reuses_outputs():
    h = Harness(cache=CachePolicy.none())
    prompt = chain(3)
    h.run(prompt)
    h.run(prompt)
    assert CALLS == ["0", "1", "2", "3"]
    assert len(h.executor.cache) == 0


@pytest.mark.parametrize(("policy", "alive"), [(CachePolicy.none(), False), (CachePolicy.classic(), True)])
def test_none_policy_releases_outputs_once_their_readers_ran(policy, alive):
    h = Harness(cache=policy)
    for cls in (MakePayload, UsePayload, PayloadAlive):
        h.registry.register(cls)
    prompt = {"m": {"class_type": "MakePayload", "inputs": {}},
              "u": {"class_type": "UsePayload", "inputs": {"payload": ["m", 0]}},
              "p": {"class_type": "PayloadAlive", "inputs": {"after": ["u", 0]}}}
    assert h.run(prompt).outputs["p"] == {"alive": [alive]}


def test_cache_entries_can_be_measured_and_dropped_for_memory_pressure(h):
    class Blob:
        nbytes = 1000

    assert default_nbytes([[Blob(), Blob()], {"x": (Blob(),)}]) == 3000
    h.run(chain(3))
    cache = h.executor.cache
    entries = list(cache.entries())
    assert len(entries) == 4 and cache.nbytes() == 0
    assert cache.evict_lru(2, keep_current=False) == 2
    assert len(cache) == 2
    cache.drop(entries[-1][0])
    h.run(chain(3))
    assert CALLS != []


def test_put_listener_can_keep_the_cache_under_a_byte_budget():
    class Blob:
        nbytes = 400

    cache = OutputCache(CachePolicy.lru(100))
    cache.put_listeners.append(keep_under(1000))
    for i in range(5):
        cache.generation += 1
        cache.put(bytes([i]), CacheEntry([[Blob()]], None, "Blob"))
    assert len(cache) == 2 and cache.nbytes() == 800
    assert bytes([4]) in cache and bytes([3]) in cache


def test_reset_forgets_everything(h):
    prompt = chain(2)
    h.run(prompt)
    h.executor.reset()
    h.run(copy.deepcopy(prompt))
    assert CALLS == ["0", "1", "2"]
