"""Canvas (UI) workflows convert to the API prompt a user would have queued from the canvas."""

import json
from pathlib import Path

import pytest

from engine.graph.registry import NodeRegistry
from engine.graph.ui_format import ui_to_api
from nodes import image_io, image_ops

INFO = {
    "EmptyImage": {
        "input": {"required": {"width": ["INT", {"default": 512}], "height": ["INT", {"default": 512}],
                               "batch_size": ["INT", {}], "color": ["INT", {}]}},
        "input_order": {"required": ["width", "height", "batch_size", "color"]},
        "display_name": "EmptyImage",
    },
    "ImageInvert": {"input": {"required": {"image": ["IMAGE"]}}, "display_name": "Invert Image"},
    "ImageScaleBy": {
        "input": {"required": {"image": ["IMAGE"], "upscale_method": [["nearest-exact", "bilinear"]],
                               "scale_by": ["FLOAT", {"default": 1.0}]}},
        "input_order": {"required": ["image", "upscale_method", "scale_by"]},
        "display_name": "Upscale Image By",
    },
    "Sampler": {
        "input": {"required": {"image": ["IMAGE"], "seed": ["INT", {"control_after_generate": True}],
                               "steps": ["INT", {}], "names": ["STRING", {}]}},
        "input_order": {"required": ["image", "seed", "steps", "names"]},
    },
    "Pair": {"input": {"required": {"mask": ["MASK"], "a": ["IMAGE"], "b": ["IMAGE"]}}},
    "PrimitiveInt": {"input": {"required": {"value": ["INT", {"control_after_generate": True}]}}},
    "SaveImage": {"input": {"required": {"images": ["IMAGE"], "filename_prefix": ["STRING", {}]}},
                  "display_name": "Save Image"},
}


class FakeRegistry:
    def object_info_for(self, class_type):
        return INFO[class_type]


def node(id, type, inputs=(), outputs=(), widgets=None, mode=0, title=None):
    n = {"id": id, "type": type, "mode": mode, "inputs": [dict(i) for i in inputs],
         "outputs": [dict(o) for o in outputs], "widgets_values": widgets if widgets is not None else []}
    if title:
        n["title"] = title
    return n


def inp(name, type, link=None, widget=False):
    d = {"name": name, "type": type, "link": link}
    if widget:
        d["widget"] = {"name": name}
    return d


def out(type):
    return {"name": type, "type": type, "links": []}


def chain(middle_mode=0, links_as_objects=False):
    """EmptyImage(1) -> ImageInvert(2) -> SaveImage(3), plus a note."""
    nodes = [
        node(1, "EmptyImage", outputs=[out("IMAGE")], widgets=[64, 32, 1, 0]),
        node(2, "ImageInvert", [inp("image", "IMAGE", 1)], [out("IMAGE")], mode=middle_mode),
        node(3, "SaveImage", [inp("images", "IMAGE", 2)], widgets=["pic"], title="Keep this"),
        node(4, "Note", widgets=["remember to smile"]),
    ]
    links = [[1, 1, 0, 2, 0, "IMAGE"], [2, 2, 0, 3, 0, "IMAGE"]]
    if links_as_objects:
        keys = ("id", "origin_id", "origin_slot", "target_id", "target_slot", "type")
        links = [dict(zip(keys, link)) for link in links]
        return {"version": 1, "state": {"lastNodeId": 4}, "nodes": nodes, "links": links}
    return {"version": 0.4, "last_node_id": 4, "nodes": nodes, "links": links}


@pytest.mark.parametrize("links_as_objects", [False, True])
def test_plain_chain_converts_widgets_links_and_titles(links_as_objects):
    api = ui_to_api(chain(links_as_objects=links_as_objects), FakeRegistry())
    assert set(api) == {"1", "2", "3"}  # the note is gone
    assert api["1"]["inputs"] == {"width": 64, "height": 32, "batch_size": 1, "color": 0}
    assert api["2"]["inputs"] == {"image": ["1", 0]}
    assert api["3"]["inputs"] == {"images": ["2", 0], "filename_prefix": "pic"}
    assert api["3"]["_meta"]["title"] == "Keep this"
    assert api["2"]["_meta"]["title"] == "Invert Image"


def test_muted_node_is_dropped_with_the_inputs_it_fed():
    api = ui_to_api(chain(middle_mode=2), FakeRegistry())
    assert "2" not in api
    assert api["3"]["inputs"] == {"filename_prefix": "pic"}


def test_bypassed_node_passes_its_matching_input_through():
    api = ui_to_api(chain(middle_mode=4), FakeRegistry())
    assert "2" not in api
    assert api["3"]["inputs"]["images"] == ["1", 0]


def test_reroutes_are_followed():
    ui = chain()
    ui["nodes"].append(node(5, "Reroute", [inp("", "*", 1)], [out("IMAGE")]))
    ui["nodes"].append(node(6, "Reroute", [inp("", "*", 3)], [out("IMAGE")]))
    ui["links"] = [[1, 1, 0, 5, 0, "IMAGE"], [3, 5, 0, 6, 0, "IMAGE"], [4, 6, 0, 2, 0, "IMAGE"],
                   [2, 2, 0, 3, 0, "IMAGE"]]
    ui["nodes"][1]["inputs"][0]["link"] = 4
    api = ui_to_api(ui, FakeRegistry())
    assert set(api) == {"1", "2", "3"}
    assert api["2"]["inputs"]["image"] == ["1", 0]


def chain_with_width_from(source_type: str) -> dict:
    """chain() with EmptyImage's width widget converted to a socket, fed by node 7 of `source_type` holding 96."""
    ui = chain()
    ui["nodes"][0]["inputs"] = [inp("width", "INT", 9, widget=True)]
    ui["nodes"].append(node(7, source_type, outputs=[out("INT")], widgets=[96, "fixed"]))
    ui["links"].append([9, 7, 0, 1, 0, "INT"])
    return ui


def test_primitive_node_value_flows_into_converted_widget():
    api = ui_to_api(chain_with_width_from("PrimitiveNode"), FakeRegistry())
    assert "7" not in api
    assert api["1"]["inputs"]["width"] == 96
    assert api["1"]["inputs"]["height"] == 32


def test_control_after_generate_value_is_skipped_and_lists_wrapped():
    ui = {"nodes": [
        node(1, "EmptyImage", outputs=[out("IMAGE")], widgets=[8, 8, 1, 0]),
        node(2, "Sampler", [inp("image", "IMAGE", 1)], widgets=[42, "randomize", 20, ["a", "b"]]),
    ], "links": [[1, 1, 0, 2, 0, "IMAGE"]]}
    api = ui_to_api(ui, FakeRegistry())
    assert api["2"]["inputs"] == {"image": ["1", 0], "seed": 42, "steps": 20, "names": {"__value__": ["a", "b"]}}


def test_combo_widget_by_position():
    ui = {"nodes": [
        node(1, "EmptyImage", outputs=[out("IMAGE")], widgets=[8, 8, 1, 0]),
        node(2, "ImageScaleBy", [inp("image", "IMAGE", 1)], widgets=["bilinear", 2.5]),
    ], "links": [[1, 1, 0, 2, 0, "IMAGE"]]}
    api = ui_to_api(ui, FakeRegistry())
    assert api["2"]["inputs"] == {"image": ["1", 0], "upscale_method": "bilinear", "scale_by": 2.5}


def test_api_format_is_refused():
    with pytest.raises(ValueError):
        ui_to_api({"1": {"class_type": "EmptyImage", "inputs": {}}}, FakeRegistry())


def test_converted_widget_linked_to_a_node_takes_the_link():
    api = ui_to_api(chain_with_width_from("PrimitiveInt"), FakeRegistry())
    assert api["1"]["inputs"]["width"] == ["7", 0]
    assert api["7"]["inputs"] == {"value": 96}


def test_shipped_canvas_example_converts_to_the_shipped_api_example():
    workflows = Path(__file__).resolve().parents[2] / "workflows"
    registry = NodeRegistry()
    registry.register_module(image_ops)
    registry.register_module(image_io)
    canvas = json.loads((workflows / "canvas" / "image_invert_and_scale.json").read_text())
    api = json.loads((workflows / "image_invert_and_scale.json").read_text())
    assert ui_to_api(canvas, registry) == api


def link_obj(id, origin, oslot, target, tslot, type):
    return {"id": id, "origin_id": origin, "origin_slot": oslot, "target_id": target, "target_slot": tslot,
            "type": type}


SUBGRAPH = {
    "id": "5f0c-subgraph", "name": "Invert and scale",
    "inputNode": {"id": -10}, "outputNode": {"id": -20},
    "inputs": [{"id": "a", "name": "image", "type": "IMAGE", "linkIds": [1]},
               {"id": "b", "name": "scale_by", "type": "FLOAT", "linkIds": [3]}],
    "outputs": [{"id": "c", "name": "IMAGE", "type": "IMAGE", "linkIds": [4]}],
    "nodes": [
        node(1, "ImageInvert", [inp("image", "IMAGE", 1)], [out("IMAGE")]),
        node(2, "ImageScaleBy", [inp("image", "IMAGE", 2), inp("scale_by", "FLOAT", 3, widget=True)],
             [out("IMAGE")], widgets=["bilinear", 1.0]),
    ],
    "links": [link_obj(1, -10, 0, 1, 0, "IMAGE"), link_obj(2, 1, 0, 2, 0, "IMAGE"),
              link_obj(3, -10, 1, 2, 1, "FLOAT"), link_obj(4, 2, 0, -20, 0, "IMAGE")],
}


def subgraph_workflow(host_widgets):
    host = node(7, "5f0c-subgraph", [inp("image", "IMAGE", 10), inp("scale_by", "FLOAT", None, widget=True)],
                [out("IMAGE")], widgets=host_widgets)
    return {"nodes": [node(1, "EmptyImage", outputs=[out("IMAGE")], widgets=[8, 8, 1, 0]), host,
                      node(3, "SaveImage", [inp("images", "IMAGE", 11)], widgets=["pic"])],
            "links": [[10, 1, 0, 7, 0, "IMAGE"], [11, 7, 0, 3, 0, "IMAGE"]],
            "definitions": {"subgraphs": [SUBGRAPH]}}


def test_subgraph_is_flattened_with_host_prefixed_ids():
    api = ui_to_api(subgraph_workflow([3.0]), FakeRegistry())
    assert set(api) == {"1", "7:1", "7:2", "3"}
    assert api["7:1"]["inputs"] == {"image": ["1", 0]}
    assert api["7:2"]["inputs"] == {"image": ["7:1", 0], "upscale_method": "bilinear", "scale_by": 3.0}
    assert api["3"]["inputs"]["images"] == ["7:2", 0]


def test_unpromoted_subgraph_input_keeps_the_inner_widget_value():
    api = ui_to_api(subgraph_workflow([]), FakeRegistry())
    assert api["7:2"]["inputs"]["scale_by"] == 1.0


def test_bypass_prefers_the_input_at_the_output_slot_index():
    # A bypassed node with an unlinked first input: output 2 passes input 2 (b) through, not a.
    ui = {"nodes": [
        node(1, "EmptyImage", outputs=[out("IMAGE")], widgets=[8, 8, 1, 0]),
        node(2, "EmptyImage", outputs=[out("IMAGE")], widgets=[4, 4, 1, 0]),
        node(3, "Pair", [inp("mask", "MASK"), inp("a", "IMAGE", 1), inp("b", "IMAGE", 2)],
             [out("MASK"), out("IMAGE"), out("IMAGE")], mode=4),
        node(4, "SaveImage", [inp("images", "IMAGE", 3)], widgets=["x"]),
    ], "links": [[1, 1, 0, 3, 1, "IMAGE"], [2, 2, 0, 3, 2, "IMAGE"], [3, 3, 2, 4, 0, "IMAGE"]]}
    api = ui_to_api(ui, FakeRegistry())
    assert api["4"]["inputs"]["images"] == ["2", 0]
