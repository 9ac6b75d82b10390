"""V3 (comfy_api) nodes load from a comfy_entrypoint pack and run through Loom's executor like any node."""

from __future__ import annotations

import sys


def show(node: str, **inputs) -> dict:
    return {"class_type": "V3TShow", "inputs": {"value": [node, 0]}, **inputs}


def shown(result, node_id: str = "out") -> list:
    return list(result.outputs[node_id]["text"])


def test_entrypoint_pack_registers_every_node_under_its_schema_id(v3):
    pack = v3.pack("v3_test_pack")
    assert pack.ok, pack.error
    assert set(pack.nodes) == {"V3TAdd", "V3TAsyncScale", "V3TLazySwitch", "V3TRepeatAdd", "V3TRange", "V3TSum",
                               "V3TWhoAmI", "V3TShow", "V3TEven", "V3TStamp", "V3TGate", "V3TRemotePick",
                               "V3TPreviewGrey", "V3TSaveGrey", "V3TJoin"}
    assert v3.registry.source_of("V3TAdd") == "custom_nodes.v3_test_pack"


def test_sync_node_runs_with_defaults_and_shows_its_result(v3):
    result, events = v3.run({"add": {"class_type": "V3TAdd", "inputs": {"a": 2}}, "out": show("add")})
    assert result.status == "success", result.error
    assert shown(result) == ["2"]
    executed = [e.data for e in events if e.type == "executed"]
    assert executed[0]["node"] == "out" and executed[0]["output"]["text"] == ("2",)


def test_async_node_runs_and_reports_progress_through_comfy_api(v3):
    result, events = v3.run({"s": {"class_type": "V3TAsyncScale", "inputs": {"x": 1.5, "factor": 4.0}},
                             "out": show("s")})
    assert result.status == "success", result.error
    assert shown(result) == ["6.0"]
    assert [(e.data["value"], e.data["max"], e.data["node"]) for e in events if e.type == "progress"] == [(1, 2, "s")]


def test_lazy_input_evaluates_only_the_branch_check_lazy_status_asks_for(v3):
    def pick(use_a: bool) -> dict:
        return {
            "a": {"class_type": "V3TAdd", "inputs": {"a": 1}},
            "b": {"class_type": "V3TAdd", "inputs": {"a": 2}},
            "pick": {"class_type": "V3TLazySwitch", "inputs": {"use_a": use_a, "a": ["a", 0], "b": ["b", 0]}},
            "out": show("pick"),
        }

    calls = sys.modules["custom_nodes.v3_test_pack"].CALLS
    calls.clear()
    result, _ = v3.run(pick(True))
    assert result.status == "success", result.error
    assert shown(result) == ["1"]
    assert "a" in result.executed and "b" not in result.executed
    assert calls.count("V3TAdd") == 1
    result, _ = v3.run(pick(False))
    assert shown(result) == ["2"] and "b" in result.executed


def test_expansion_runs_the_built_subgraph_and_returns_its_link(v3):
    result, _ = v3.run({"rep": {"class_type": "V3TRepeatAdd", "inputs": {"value": 10, "step": 5, "times": 3}},
                        "out": show("rep")})
    assert result.status == "success", result.error
    assert shown(result) == ["25"]
    assert sum(1 for n in result.executed if n.startswith("rep.")) == 3


def test_list_output_maps_consumers_and_input_list_node_gets_the_whole_list(v3):
    prompt = {
        "range": {"class_type": "V3TRange", "inputs": {"count": 4}},
        "inc": {"class_type": "V3TAdd", "inputs": {"a": ["range", 0], "b": 1}},
        "sum": {"class_type": "V3TSum", "inputs": {"values": ["inc", 0]}},
        "each": show("inc"),
        "out": show("sum"),
    }
    result, _ = v3.run(prompt)
    assert result.status == "success", result.error
    assert shown(result, "each") == ["1", "2", "3", "4"]
    assert shown(result) == ["10"]


def test_hidden_values_reach_the_class_as_cls_hidden(v3):
    prompt = {"who": {"class_type": "V3TWhoAmI", "inputs": {}}, "out": show("who")}
    result, _ = v3.run(prompt)
    assert result.status == "success", result.error
    assert shown(result) == [repr("who|['out', 'who']|['workflow']|None")]


def test_custom_validation_message_is_a_validation_error_before_anything_runs(v3):
    result, _ = v3.run({"even": {"class_type": "V3TEven", "inputs": {"value": 3, "mode": "keep"}},
                        "out": show("even")})
    assert result.status == "error"
    [error] = result.node_errors["even"]["errors"]
    assert error["type"] == "custom_validation_failed"
    assert error["details"] == "value must be even, got 3"
    assert result.executed == []


def test_combo_option_outside_the_schema_options_is_refused(v3):
    result, _ = v3.run({"even": {"class_type": "V3TEven", "inputs": {"value": 4, "mode": "triple"}},
                        "out": show("even")})
    assert result.status == "error"
    assert result.node_errors["even"]["errors"][0]["type"] == "value_not_in_list"


def test_fingerprint_inputs_keeps_the_node_cached_until_its_value_changes(v3):
    def stamp(key: str) -> dict:
        return {"st": {"class_type": "V3TStamp", "inputs": {"key": key}}, "out": show("st")}

    first, _ = v3.run(stamp("one"))
    again, _ = v3.run(stamp("one"))
    changed, _ = v3.run(stamp("two"))
    assert shown(first) == shown(again) != shown(changed)
    assert "st" in again.cached


def test_block_execution_stops_downstream_nodes_without_an_error(v3):
    prompt = {
        "a": {"class_type": "V3TAdd", "inputs": {"a": 7}},
        "gate": {"class_type": "V3TGate", "inputs": {"value": ["a", 0], "open": False}},
        "out": show("gate"),
    }
    result, _ = v3.run(prompt)
    assert result.status == "success", result.error
    assert "out" not in result.outputs


def test_preview_image_writes_a_temp_png_named_in_the_ui_output(v3):
    from PIL import Image

    result, _ = v3.run({"p": {"class_type": "V3TPreviewGrey", "inputs": {"level": 0.5}}})
    assert result.status == "success", result.error
    [image] = result.outputs["p"]["images"]
    assert image["type"] == "temp" and image["filename"].endswith("_00001_.png")
    assert list(result.outputs["p"]["animated"]) == [False]
    with Image.open(v3.folders.temp_dir / image["subfolder"] / image["filename"]) as png:
        assert png.size == (6, 4) and png.getpixel((0, 0)) == (127, 127, 127)
        assert "prompt" in png.text and "workflow" in png.text


def test_save_helper_writes_numbered_pngs_and_mask_preview_is_grey(v3):
    from PIL import Image

    result, _ = v3.run({"save": {"class_type": "V3TSaveGrey", "inputs": {"level": 0.25, "filename_prefix": "g/v3"}}})
    assert result.status == "success", result.error
    saved, second, preview = result.outputs["save"]["images"]
    assert (saved["filename"], saved["subfolder"], saved["type"]) == ("v3_00001_.png", "g", "output")
    assert second["filename"] == "v3_00002_.png" and preview["type"] == "temp"
    with Image.open(v3.folders.temp_dir / preview["subfolder"] / preview["filename"]) as png:
        assert png.size == (5, 3) and png.getpixel((2, 1)) == (63, 63, 63)
    with Image.open(v3.folders.output_dir / "g" / "v3_00001_.png") as png:
        assert png.getpixel((0, 0)) == (63, 63, 63)
