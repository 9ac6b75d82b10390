"""Validation reuses the verdicts of nodes submitted again unchanged, and never where anything that decides a
verdict changed: the node's inputs (value or type), the classes of its sources, or a verdict that can change
by itself (custom validators, combos). The oracle is the same prompt validated by a fresh registry."""

import asyncio
import copy

import pytest
from graph_nodes import CALLS, FINGERPRINTS, Harness, chain, make_registry

from engine.graph.promptgraph import PromptGraph
from engine.graph.validation import validate_prompt


@pytest.fixture
def registry():
    return make_registry()


def validated_like_fresh(prompt: dict, registry):
    """Validate `prompt` with `registry` (memo warm) and assert the same result as a fresh registry gives."""
    result, fresh = validate_prompt(prompt, registry), validate_prompt(prompt, make_registry())
    assert (result.ok, result.error, result.node_errors, result.good_outputs, result.order) == (
        fresh.ok, fresh.error, fresh.node_errors, fresh.good_outputs, fresh.order)
    assert {i: (n.consts, n.links) for i, n in result.nodes.items()} == {
        i: (n.consts, n.links) for i, n in fresh.nodes.items()}
    return result


def test_an_unchanged_node_is_taken_from_the_memo_with_the_same_result(registry):
    first = validated_like_fresh(chain(5), registry)
    again = validated_like_fresh(chain(5, value=3), registry)
    assert again.nodes["2"] is first.nodes["2"]  # reused: only node 0 changed
    assert again.nodes["0"] is not first.nodes["0"] and again.nodes["0"].consts == {"value": 3}


def test_a_changed_literal_out_of_range_is_still_refused(registry):
    validated_like_fresh(chain(3), registry)
    prompt = chain(3)
    prompt["1"]["inputs"]["b"] = "not a number"
    result = validated_like_fresh(prompt, registry)
    assert not result.ok and result.node_errors["1"]["errors"][0]["type"] == "invalid_input_type"
    prompt = chain(3, value=101)
    assert validated_like_fresh(prompt, registry).node_errors["0"]["errors"][0]["type"] == "value_bigger_than_max"


def test_a_literal_of_another_type_but_equal_value_is_coerced_anew(registry):
    prompt = {"s": {"class_type": "Sleep", "inputs": {"seconds": 0, "tag": 1}},
              "o": {"class_type": "Record", "inputs": {"value": ["s", 0]}}}
    assert validated_like_fresh(prompt, registry).nodes["s"].consts["tag"] == "1"
    prompt["s"]["inputs"]["tag"] = True  # True == 1 in Python, but the string is "True"
    assert validated_like_fresh(prompt, registry).nodes["s"].consts["tag"] == "True"
    prompt["s"]["inputs"]["seconds"] = -0.0  # == 0 and == 0.0, but another float
    assert str(validated_like_fresh(prompt, registry).nodes["s"].consts["seconds"]) == "-0.0"


def test_a_source_of_another_class_is_checked_again(registry):
    validated_like_fresh(chain(3), registry)
    prompt = chain(3)
    prompt["0"] = {"class_type": "Sleep", "inputs": {"seconds": 0}}  # FLOAT into Add's INT input
    result = validated_like_fresh(prompt, registry)
    assert result.node_errors["1"]["errors"][0]["type"] == "return_type_mismatch"


def test_a_link_to_a_removed_node_or_a_bad_index_is_still_refused(registry):
    validated_like_fresh(chain(3), registry)
    prompt = chain(3)
    del prompt["0"]
    assert validated_like_fresh(prompt, registry).node_errors["1"]["errors"][0]["message"] == "Linked node does not exist"
    prompt = chain(3)
    prompt["1"]["inputs"]["a"] = ["0", 1]
    result = validated_like_fresh(prompt, registry)
    assert result.node_errors["1"]["errors"][0]["message"] == "Linked output index out of range"
    prompt["1"]["inputs"]["a"] = ["0", True]  # == 1 but not an index
    validated_like_fresh(prompt, registry)


def test_nodes_with_a_custom_validator_or_a_combo_are_validated_every_time(registry):
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "fast", "ckpt": "none.safetensors", "level": 0}},
              "o": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    first = validated_like_fresh(prompt, registry)
    assert validated_like_fresh(copy.deepcopy(prompt), registry).nodes["p"] is not first.nodes["p"]


def test_a_prompt_edited_after_validation_does_not_change_the_kept_verdict(registry):
    prompt = chain(3)
    validated_like_fresh(prompt, registry)
    prompt["1"]["inputs"]["a"][1] = 5  # the client's dict, mutated in place: the memo kept its own copy
    assert validated_like_fresh(prompt, registry).node_errors["1"]["errors"][0]["message"] == (
        "Linked output index out of range")


def test_reused_nodes_still_get_cache_keys_that_follow_their_sources_and_widgets():
    harness = Harness()
    assert harness.run(chain(4)).executed == ["0", "1", "2", "3", "4"]
    assert harness.run(chain(4)).executed == []  # unchanged: every node cached
    assert harness.run(chain(4, value=2)).executed == ["0", "1", "2", "3", "4"]  # upstream changed
    prompt = chain(4, value=2)
    prompt["2"]["inputs"]["b"] = 5  # a widget in the middle: it and what reads it
    result = harness.run(prompt)
    assert result.executed == ["2", "3", "4"] and result.outputs["4"] == {"value": [9]}
    prompt["1"]["inputs"]["a"] = ["0", 0]  # an equal link again: nothing to run
    assert harness.run(prompt).executed == []
    del prompt["0"]  # the source replaced by a different one under the same id
    prompt["0"] = {"class_type": "Const", "inputs": {"value": 7}}
    assert harness.run(prompt).outputs["4"] == {"value": [14]}


# -- whole prompts parsed from JSON ------------------------------------------------------------------
def test_the_same_json_prompt_again_gets_the_kept_verdict_in_containers_of_its_own(registry):
    prompt = chain(40)
    first = validate_prompt(prompt, registry, parsed_json=True)
    again = validate_prompt(copy.deepcopy(prompt), registry, parsed_json=True)
    fresh = validate_prompt(prompt, make_registry())
    assert (again.ok, again.good_outputs, again.order, again.node_errors) == (
        fresh.ok, fresh.good_outputs, fresh.order, fresh.node_errors)
    assert all(again.nodes[i] is first.nodes[i] for i in prompt)  # not parsed again
    again.nodes["extra"] = again.nodes["0"]  # a run adds its ephemeral nodes to the result's dict
    again.order.append("extra")
    third = validate_prompt(prompt, registry, parsed_json=True)
    assert "extra" not in third.nodes and third.order == fresh.order


def queue_json(harness: Harness, prompt: dict):
    """Run `prompt` as the server does: validated as parsed JSON text (the memo may recall it), then executed."""
    checked = validate_prompt(copy.deepcopy(prompt), harness.registry, parsed_json=True)
    CALLS.clear()
    return asyncio.run(harness.executor.execute(prompt, "p", harness.log, validation=checked))


def test_the_same_json_prompt_queued_again_is_all_cached_without_being_signed_again(monkeypatch):
    harness = Harness()
    assert len(queue_json(harness, chain(30)).executed) == 31
    signed = []
    sign = PromptGraph.sign_in_order
    monkeypatch.setattr(PromptGraph, "sign_in_order", lambda graph, order, make_context: (
        signed.append(order), sign(graph, order, make_context))[1])
    again = queue_json(harness, chain(30))
    assert again.executed == [] and len(again.cached) == 31 and signed == []
    assert again.outputs == {"30": {"value": [29]}}
    other = queue_json(harness, chain(30, value=1))  # another prompt: signed, and all of it runs again
    assert len(other.executed) == 31 and len(signed) == 1 and other.outputs == {"30": {"value": [30]}}


def test_the_same_json_prompt_with_is_changed_queued_again_asks_is_changed_every_time(monkeypatch):
    harness = Harness()
    prompt = {"f": {"class_type": "V1Fingerprint", "inputs": {"name": "x"}},
              "o": {"class_type": "Record", "inputs": {"value": ["f", 0]}}}
    monkeypatch.setitem(FINGERPRINTS, "value", "a")
    queue_json(harness, prompt)
    assert queue_json(harness, prompt).executed == []
    FINGERPRINTS["value"] = "b"
    result = queue_json(harness, prompt)
    assert result.executed == ["f", "o"] and result.outputs == {"o": {"value": ["x:b"]}}


def test_json_prompts_that_differ_only_in_type_or_targets_are_validated_on_their_own(registry):
    prompt = {"s": {"class_type": "Sleep", "inputs": {"seconds": 0, "tag": 1}},
              "o": {"class_type": "Record", "inputs": {"value": ["s", 0]}},
              "p": {"class_type": "Record", "inputs": {"value": ["s", 0]}}}
    assert validate_prompt(prompt, registry, parsed_json=True).nodes["s"].consts["tag"] == "1"
    prompt["s"]["inputs"]["tag"] = True  # == 1, but JSON `true`
    assert validate_prompt(prompt, registry, parsed_json=True).nodes["s"].consts["tag"] == "True"
    assert validate_prompt(prompt, registry, ["o"], parsed_json=True).good_outputs == ["o"]
    assert validate_prompt(prompt, registry, ["p"], parsed_json=True).good_outputs == ["p"]


def test_a_python_prompt_is_not_matched_by_its_json_text(registry):
    """A tuple is written as a JSON array; only a prompt parsed from JSON may be recognised by its text."""
    prompt = chain(3)
    assert validate_prompt(prompt, registry, parsed_json=True).ok
    prompt["1"]["inputs"]["a"] = ("0", 0)
    result = validated_like_fresh(prompt, registry)
    assert not result.ok and result.node_errors["1"]["errors"][0]["type"] == "invalid_input_type"


def test_a_json_prompt_with_a_combo_is_checked_against_the_files_every_time(tmp_path):
    from engine.graph.context import Services
    from engine.paths import Folders

    folders = Folders(tmp_path)
    (tmp_path / "models" / "checkpoints").mkdir(parents=True, exist_ok=True)
    (tmp_path / "models" / "checkpoints" / "a.safetensors").write_bytes(b"x")
    registry = make_registry(Services(folders=folders))
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "fast", "ckpt": "a.safetensors", "level": 0}},
              "o": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    assert validate_prompt(prompt, registry, parsed_json=True).ok
    (tmp_path / "models" / "checkpoints" / "a.safetensors").unlink()
    result = validate_prompt(prompt, registry, parsed_json=True)
    assert not result.ok and result.node_errors["p"]["errors"][0]["type"] == "value_not_in_list"
