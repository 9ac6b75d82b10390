"""Engine behaviour ComfyUI packs rely on: hidden inputs of ordinary types carry the prompt's value,
expansion handles can rename the node the UI shows, a V3 class listed in NODE_CLASS_MAPPINGS and V1 nodes
typed with comfy.comfy_types load, and ComfyAPISync reports progress from a sync node."""

from __future__ import annotations

from engine.graph.dynprompt import DynamicPrompt
from engine.graph.expansion import GraphBuilder


def test_mixed_pack_loads_v3_class_from_mappings_under_the_mapping_name(v3):
    pack = v3.pack("v3_mapped_pack")
    assert pack.ok, pack.error
    assert set(pack.nodes) == {"MappedDouble", "SyncProgress", "HiddenCarry", "ShownAs"}
    result, _ = v3.run({"d": {"class_type": "MappedDouble", "inputs": {"value": 21}},
                        "out": {"class_type": "V3TShow", "inputs": {"value": ["d", 0]}}})
    assert result.status == "success", result.error
    assert list(result.outputs["out"]["text"]) == ["42"]


def test_hidden_input_of_any_type_receives_the_literal_the_prompt_gives(v3):
    prompt = {"h": {"class_type": "HiddenCarry", "inputs": {"carry": 5}},
              "v": {"class_type": "V3TShow", "inputs": {"value": ["h", 0]}},
              "id": {"class_type": "V3TShow", "inputs": {"value": ["h", 1]}}}
    result, _ = v3.run(prompt)
    assert result.status == "success", result.error
    assert list(result.outputs["v"]["text"]) == ["5"]
    assert list(result.outputs["id"]["text"]) == ["'h'"]


def test_hidden_input_of_any_type_receives_a_linked_value(v3):
    prompt = {"a": {"class_type": "V3TAdd", "inputs": {"a": 3, "b": 4}},
              "h": {"class_type": "HiddenCarry", "inputs": {"carry": ["a", 0]}},
              "v": {"class_type": "V3TShow", "inputs": {"value": ["h", 0]}}}
    result, _ = v3.run(prompt)
    assert result.status == "success", result.error
    assert list(result.outputs["v"]["text"]) == ["7"]


def test_hidden_input_left_out_of_the_prompt_is_not_passed(v3):
    result, _ = v3.run({"h": {"class_type": "HiddenCarry", "inputs": {}},
                        "v": {"class_type": "V3TShow", "inputs": {"value": ["h", 0]}}})
    assert result.status == "success", result.error
    assert list(result.outputs["v"]["text"]) == ["None"]


def test_expanded_node_runs_displayed_as_its_override_id(v3):
    prompt = {"s": {"class_type": "ShownAs", "inputs": {"value": 9, "display_as": "shown"}},
              "v": {"class_type": "V3TShow", "inputs": {"value": ["s", 0]}}}
    result, events = v3.run(prompt)
    assert result.status == "success", result.error
    assert list(result.outputs["v"]["text"]) == ["9"]
    inner = [e.data for e in events if e.type == "executing" and (e.data["node"] or "").startswith("s.")]
    assert [d["display_node"] for d in inner] == ["shown"]


def test_expanded_node_without_override_is_displayed_as_the_expanding_node(v3):
    prompt = {"s": {"class_type": "ShownAs", "inputs": {"value": 1, "display_as": ""}},
              "v": {"class_type": "V3TShow", "inputs": {"value": ["s", 1]}}}
    result, events = v3.run(prompt)
    assert result.status == "success", result.error
    inner = [e.data for e in events if e.type == "executing" and (e.data["node"] or "").startswith("s.")]
    assert [d["display_node"] for d in inner] == ["s"]


def test_comfy_api_sync_progress_from_a_sync_node_is_the_nodes_progress(v3):
    result, events = v3.run({"p": {"class_type": "SyncProgress", "inputs": {"value": 1, "steps": 3}},
                             "v": {"class_type": "V3TShow", "inputs": {"value": ["p", 0]}}})
    assert result.status == "success", result.error
    assert [(e.data["value"], e.data["max"], e.data["node"]) for e in events if e.type == "progress"] == [
        (1, 3, "p"), (2, 3, "p"), (3, 3, "p")]


def test_graph_builder_serializes_display_overrides_keeps_none_literals_and_drops_inputs_set_to_none():
    graph = GraphBuilder(prefix="x.")
    assert graph.node("Keep", c=None).inputs == {"c": None}
    graph.remove_node("0")
    node = graph.node("Add", id="0", a=1, b=2)
    node.set_input("b", None)
    node.set_override_display_id("7")
    other = graph.node("Add", a=node.out(0))
    assert node.get_input("a") == 1 and node.get_input("b") is None
    assert graph.finalize() == {
        "x.0": {"class_type": "Add", "inputs": {"a": 1}, "override_display_id": "7"},
        "x.1": {"class_type": "Add", "inputs": {"a": ["x.0", 0]}},
    }
    assert other.override_display_id is None


def test_display_ids_follow_override_chains_to_an_original_node():
    dyn = DynamicPrompt({"1": {"class_type": "Loop", "inputs": {}}})
    dyn.add_ephemeral_node("1.0.0.body", {}, "1", "1")
    dyn.add_ephemeral_node("1.0.0.body.0.0.again", {}, "1.0.0.body", "1.0.0.body")
    assert dyn.get_display_node_id("1.0.0.body.0.0.again") == "1"
    assert dyn.get_display_node_id("1") == "1"
