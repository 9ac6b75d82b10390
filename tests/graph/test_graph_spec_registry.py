"""Node specs from both declaration styles, the registry, and the /object_info shape generated from them."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import pytest
from graph_nodes import make_registry

from engine.graph.native import Node, Out, Socket, node
from engine.graph.registry import NodeRegistry
from engine.graph.types import is_link, types_compatible

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def info():
    return make_registry().object_info()


@pytest.mark.parametrize(("out", "inp", "ok"), [
    ("IMAGE", "IMAGE", True), ("IMAGE", "LATENT", False), ("*", "MODEL", True), ("MODEL", "*", True),
    ("INT", "INT,FLOAT", True), ("INT,FLOAT", "INT", False), ("FLOAT,INT", "INT,FLOAT", True),
    (["a", "b"], "COMBO", True),
])
def test_types_compatible(out, inp, ok):
    assert types_compatible(out, inp) is ok


def test_links_are_exactly_a_string_id_and_an_int_index():
    assert is_link(["3", 0])
    assert not is_link([3, 0]) and not is_link(["3", "0"]) and not is_link(["3", 0, 1]) and not is_link(["3", True])


def test_native_node_object_info(info):
    const = info["Const"]
    assert const["input"] == {"required": {"value": ["INT", {"default": 0, "min": 0, "max": 100, "step": 1,
                                                             "control_after_generate": True}]}}
    assert const["input_order"] == {"required": ["value"]}
    assert const["output"] == ["INT"] and const["output_name"] == ["INT"] and const["output_is_list"] == [False]
    assert const["output_tooltips"] == ["the value"]
    assert const["description"] == "A constant integer."
    assert const["category"] == "test" and const["output_node"] is False
    assert info["Record"]["output_node"] is True
    assert info["Add"]["input"]["required"]["a"] == ["INT"]
    assert info["Range"]["output_is_list"] == [True]


def test_native_literal_and_dynamic_combos(info):
    pick = info["Pick"]["input"]["required"]
    assert pick["mode"] == [["fast", "slow"], {"default": "fast"}]
    assert pick["ckpt"][0] == ["none.safetensors"]


def test_alias_registers_the_same_node_under_another_name(info):
    assert info["ConstAlias"]["input"] == info["Const"]["input"]
    assert info["ConstAlias"]["name"] == "ConstAlias"
    assert info["ConstAlias"]["alias_of"] == "Const"  # so palettes list the node once
    assert "alias_of" not in info["Const"]


def test_v1_node_object_info_keeps_its_declaration(info):
    scale = info["V1Scale"]
    assert scale["input"]["required"]["factor"] == ["FLOAT", {"default": 2.0, "min": 0.0, "max": 10.0, "step": 0.5}]
    assert scale["output_name"] == ["scaled"]
    assert scale["display_name"] == "Scale (V1)"
    assert scale["description"] == "Multiply an integer."
    assert info["V1Hidden"]["input"]["hidden"]["unique_id"] == "UNIQUE_ID"
    assert info["V1Gate"]["input"]["required"]["mode"] == [["pass", "silent", "loud"]]


def test_object_info_is_json_serialisable(info):
    assert json.loads(json.dumps(info))["V1Scale"]["name"] == "V1Scale"


def test_v1_flags_reach_the_spec():
    class Old:
        RETURN_TYPES = ("IMAGE", "MASK")
        OUTPUT_IS_LIST = (True, False)
        FUNCTION = "go"
        DEPRECATED = True
        EXPERIMENTAL = True
        NOT_IDEMPOTENT = True

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"image": ("IMAGE", {"tooltip": "in"})}, "optional": {"mask": ("MASK",)}}

        def go(self, image, mask=None):
            return image, mask

    registry = NodeRegistry()
    registry.register(Old)
    spec = registry.get("Old").spec
    assert spec.deprecated and spec.experimental and spec.not_idempotent and spec.category == "sd"
    assert [o.is_list for o in spec.outputs] == [True, False]
    assert [(i.name, i.section) for i in spec.inputs] == [("image", "required"), ("mask", "optional")]
    entry = registry.object_info_for("Old")
    assert entry["deprecated"] is True and entry["experimental"] is True
    assert entry["input_order"] == {"required": ["image"], "optional": ["mask"]}


def test_optional_socket_and_lazy_options_in_native_spec():
    @node(outputs=[Out("IMAGE")])
    class Blend(Node):
        image: Annotated[object, Socket("IMAGE")]
        mask: Annotated[object, Socket("MASK", lazy=True)] = None

        def run(self, ctx):
            return (self.image,)

    inputs = {i.name: i for i in Blend.__loom_definition__.spec.inputs}
    assert inputs["image"].section == "required" and inputs["mask"].section == "optional" and inputs["mask"].lazy


def test_unannotated_native_field_is_refused_with_its_name():
    with pytest.raises(TypeError, match=r"Bad\.thing"):
        @node
        class Bad(Node):
            thing: list

            def run(self, ctx):
                return ()


def test_unknown_class_lookup_names_it():
    with pytest.raises(KeyError, match="Nope"):
        NodeRegistry().get("Nope")


def test_graph_runtime_never_imports_torch():
    code = (
        "import importlib, pkgutil, sys, engine.graph as g\n"
        "for m in pkgutil.iter_modules(g.__path__):\n"
        "    importlib.import_module('engine.graph.' + m.name)\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
