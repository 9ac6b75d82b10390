"""Validation: every problem reported at once, in ComfyUI's error shape, and partial execution of the rest."""

from typing import Annotated

import pytest
from graph_nodes import CALLS, Harness, chain, make_registry

from engine.graph.native import Node, Out, Socket, node
from engine.graph.validation import validate_prompt


@pytest.fixture(scope="module")
def registry():
    return make_registry()


def only_error(result, node_id):
    [error] = result.node_errors[node_id]["errors"]
    return error


def test_valid_prompt_passes(registry):
    result = validate_prompt(chain(3), registry)
    assert result.ok and result.error is None and result.node_errors == {}
    assert result.good_outputs == ["3"]


def test_unknown_node_type_fails_the_whole_prompt(registry):
    prompt = chain(2)
    prompt["x"] = {"class_type": "NoSuchNode", "inputs": {}}
    result = validate_prompt(prompt, registry)
    assert not result.ok
    assert result.error["type"] == "invalid_prompt"
    assert "NoSuchNode" in result.error["message"]
    assert result.error["details"] == "Node ID '#x'"


def test_missing_class_type_is_reported(registry):
    result = validate_prompt({"1": {"inputs": {}}}, registry)
    assert result.error["type"] == "invalid_prompt"
    assert "class_type" in result.error["message"]


def test_prompt_without_output_nodes_is_refused(registry):
    result = validate_prompt({"1": {"class_type": "Const", "inputs": {"value": 1}}}, registry)
    assert result.error["type"] == "prompt_no_outputs"


def test_empty_target_list_means_no_outputs(registry):
    assert validate_prompt(chain(2), registry, targets=[]).error["type"] == "prompt_no_outputs"


def test_missing_required_socket_names_node_and_input(registry):
    prompt = {"a": {"class_type": "Add", "inputs": {"b": 1}}, "o": {"class_type": "Record",
                                                                     "inputs": {"value": ["a", 0]}}}
    result = validate_prompt(prompt, registry)
    assert not result.ok
    assert result.error["type"] == "prompt_outputs_failed_validation"
    entry = result.node_errors["a"]
    assert entry["class_type"] == "Add" and entry["dependent_outputs"] == ["o"]
    error = only_error(result, "a")
    assert error["type"] == "required_input_missing"
    assert error["extra_info"]["input_name"] == "a"
    assert "o" not in result.node_errors  # invalid only because of its upstream


def test_missing_widget_is_refused_even_with_a_default_as_comfyui_does(registry):
    prompt = {"c": {"class_type": "Const", "inputs": {}}, "o": {"class_type": "Record",
                                                                "inputs": {"value": ["c", 0]}}}
    result = validate_prompt(prompt, registry)
    assert not result.ok
    (error,) = result.node_errors["c"]["errors"]
    assert error["type"] == "required_input_missing" and error["extra_info"]["input_name"] == "value"


@pytest.mark.parametrize(("link", "details"), [
    (["ghost", 0], "node 'ghost' is not in the prompt"),
    (["c", 3], "index 3 does not exist"),
    (["c"], "['c']"),
    ([1, 0], "[1, 0]"),
])
def test_bad_links_are_reported(registry, link, details):
    prompt = {"c": {"class_type": "Const", "inputs": {"value": 1}},
              "o": {"class_type": "Record", "inputs": {"value": link}}}
    error = only_error(validate_prompt(prompt, registry), "o")
    assert error["type"] == "bad_linked_input"
    assert details in error["details"]
    assert error["extra_info"]["input_name"] == "value"


def test_type_mismatch_names_both_types(registry):
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "fast", "ckpt": "none.safetensors", "level": 0}},
              "a": {"class_type": "Add", "inputs": {"a": ["p", 0], "b": 1}},
              "o": {"class_type": "Record", "inputs": {"value": ["a", 0]}}}
    error = only_error(validate_prompt(prompt, registry), "a")
    assert error["type"] == "return_type_mismatch"
    assert error["extra_info"]["received_type"] == "STRING"
    assert "input_type(INT)" in error["details"]


def test_wildcard_and_union_types_link(registry):
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "fast", "ckpt": "none.safetensors", "level": 0}},
              "o": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    assert validate_prompt(prompt, registry).ok


def test_literal_of_wrong_type(registry):
    prompt = {"c": {"class_type": "Const", "inputs": {"value": "many"}},
              "o": {"class_type": "Record", "inputs": {"value": ["c", 0]}}}
    error = only_error(validate_prompt(prompt, registry), "c")
    assert error["type"] == "invalid_input_type"
    assert error["extra_info"]["received_value"] == "many"


def test_literals_are_coerced_to_the_declared_type(registry):
    prompt = {"c": {"class_type": "Const", "inputs": {"value": "7"}},
              "s": {"class_type": "V1Scale", "inputs": {"x": ["c", 0], "factor": 1}},
              "o": {"class_type": "Record", "inputs": {"value": ["s", 0]}}}
    result = validate_prompt(prompt, registry)
    assert result.nodes["c"].consts == {"value": 7}
    assert isinstance(result.nodes["s"].consts["factor"], float)


@pytest.mark.parametrize(("given", "expected"), [("false", False), ("True", True), (0, False), (1, True)])
def test_boolean_literals_from_text_mean_what_they_say(registry, given, expected):
    prompt = {"s": {"class_type": "V1Switch", "inputs": {"use_a": given, "a": 1, "b": 2}},
              "o": {"class_type": "Record", "inputs": {"value": ["s", 0]}}}
    assert validate_prompt(prompt, registry).nodes["s"].consts["use_a"] is expected


@pytest.mark.parametrize(("value", "kind"), [(-1, "value_smaller_than_min"), (101, "value_bigger_than_max")])
def test_values_outside_min_max(registry, value, kind):
    prompt = {"c": {"class_type": "Const", "inputs": {"value": value}},
              "o": {"class_type": "Record", "inputs": {"value": ["c", 0]}}}
    error = only_error(validate_prompt(prompt, registry), "c")
    assert error["type"] == kind
    assert error["extra_info"]["input_config"][0] == "INT"


def test_value_not_among_options(registry):
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "turbo", "ckpt": "none.safetensors", "level": 0}},
              "o": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    result = validate_prompt(prompt, registry)
    error = only_error(result, "p")
    assert error["type"] == "value_not_in_list"
    assert "'turbo' not in ['fast', 'slow']" in error["details"]


def test_multi_select_combo_checks_every_chosen_option():
    class Tags:
        RETURN_TYPES = ()
        FUNCTION = "go"
        OUTPUT_NODE = True

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"tags": (["a", "b", "c"], {"multi_select": True})}}

        def go(self, tags):
            return {"ui": {"tags": tags}}

    registry = make_registry()
    registry.register(Tags)
    ok = {"t": {"class_type": "Tags", "inputs": {"tags": {"__value__": ["a", "c"]}}}}
    assert validate_prompt(ok, registry).ok
    bad = {"t": {"class_type": "Tags", "inputs": {"tags": {"__value__": ["a", "z"]}}}}
    assert "'z' not in ['a', 'b', 'c']" in only_error(validate_prompt(bad, registry), "t")["details"]


def test_dynamic_combo_is_checked_against_the_live_folder_listing(tmp_path):
    class Folders:
        def list(self, kind):
            return sorted(p.name for p in tmp_path.iterdir())

    from engine.graph.context import Services

    registry = make_registry(Services(folders=Folders()))
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "fast", "ckpt": "new.safetensors", "level": 0}},
              "o": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    assert only_error(validate_prompt(prompt, registry), "p")["type"] == "value_not_in_list"
    (tmp_path / "new.safetensors").write_bytes(b"")
    assert validate_prompt(prompt, registry).ok


def test_custom_validation_failure_carries_the_reason(registry):
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "slow", "ckpt": "none.safetensors", "level": 13}},
              "o": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    error = only_error(validate_prompt(prompt, registry), "p")
    assert error["type"] == "custom_validation_failed"
    assert error["details"] == "level 13 is unlucky"


def test_input_claimed_by_custom_validator_skips_range_check(registry):
    prompt = {"p": {"class_type": "Pick", "inputs": {"mode": "slow", "ckpt": "none.safetensors", "level": 50}},
              "o": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    assert validate_prompt(prompt, registry).ok


def test_exception_in_custom_validator_is_a_validation_error():
    class Touchy:
        RETURN_TYPES = ()
        FUNCTION = "go"
        OUTPUT_NODE = True

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"path": ("STRING", {"default": ""})}}

        @classmethod
        def VALIDATE_INPUTS(cls, path):
            raise FileNotFoundError(path)

        def go(self, path):
            return {}

    registry = make_registry()
    registry.register(Touchy)
    error = only_error(validate_prompt({"t": {"class_type": "Touchy", "inputs": {"path": "x.png"}}}, registry), "t")
    assert error["type"] == "exception_during_validation"
    assert "FileNotFoundError: x.png" in error["details"]


def test_validator_taking_input_types_decides_link_types_itself():
    class AnyNumber:
        RETURN_TYPES = ()
        FUNCTION = "go"
        OUTPUT_NODE = True

        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"x": ("FLOAT",)}}

        @classmethod
        def VALIDATE_INPUTS(cls, input_types):
            return input_types["x"] in ("INT", "FLOAT") or f"x cannot take {input_types['x']}"

        def go(self, x):
            return {}

    registry = make_registry()
    registry.register(AnyNumber)
    prompt = {"c": {"class_type": "Const", "inputs": {"value": 1}},
              "n": {"class_type": "AnyNumber", "inputs": {"x": ["c", 0]}}}
    assert validate_prompt(prompt, registry).ok
    prompt["c"] = {"class_type": "Pick", "inputs": {"mode": "fast", "ckpt": "none.safetensors", "level": 0}}
    error = only_error(validate_prompt(prompt, registry), "n")
    assert error["type"] == "custom_validation_failed" and error["details"] == "x cannot take STRING"


def test_all_problems_are_reported_at_once(registry):
    prompt = {"c": {"class_type": "Const", "inputs": {"value": 500}},
              "a": {"class_type": "Add", "inputs": {"a": ["c", 0], "b": "x"}},
              "p": {"class_type": "Pick", "inputs": {"mode": "turbo", "ckpt": "none.safetensors", "level": 0}},
              "o1": {"class_type": "Record", "inputs": {"value": ["a", 0]}},
              "o2": {"class_type": "Record", "inputs": {"value": ["p", 0]}}}
    result = validate_prompt(prompt, registry)
    assert set(result.node_errors) == {"c", "a", "p"}
    assert result.node_errors["c"]["dependent_outputs"] == ["o1"]
    assert len(result.error["details"].splitlines()) == 3


def test_cycle_is_reported_once_with_its_nodes_and_the_input_that_closes_it(registry):
    prompt = {"a": {"class_type": "Add", "inputs": {"a": ["b", 0], "b": 1}},
              "b": {"class_type": "Add", "inputs": {"a": ["a", 0], "b": 1}},
              "o": {"class_type": "Record", "inputs": {"value": ["b", 0]}}}
    result = validate_prompt(prompt, registry)
    assert not result.ok
    [(node_id, entry)] = result.node_errors.items()
    [error] = entry["errors"]
    assert error["type"] == "dependency_cycle" and error["extra_info"]["input_name"] == "a"
    assert sorted(error["extra_info"]["cycle"]) == ["a", "b"]
    assert f"input 'a' of node {node_id} closes the cycle" in error["details"]
    assert entry["dependent_outputs"] == ["o"]


def test_a_long_cycle_answer_grows_linearly_with_the_cycle(registry):
    """Every node of a 2,000-node ring once named its whole ring: 4 million node names."""
    size = 2000
    prompt = {str(i): {"class_type": "Add", "inputs": {"a": [str((i + 1) % size), 0], "b": 1}} for i in range(size)}
    prompt["o"] = {"class_type": "Record", "inputs": {"value": ["0", 0]}}
    result = validate_prompt(prompt, registry)
    assert len(result.node_errors) == 1
    assert len(repr(result.node_errors)) + len(result.error["details"]) < 40 * size
    [entry] = result.node_errors.values()
    assert len(entry["errors"][0]["extra_info"]["cycle"]) == size


def test_partial_validation_runs_the_valid_outputs_and_names_the_dropped_ones():
    h = Harness()
    prompt = chain(2)
    prompt["bad"] = {"class_type": "Const", "inputs": {"value": 1000}}
    prompt["bad_out"] = {"class_type": "Record", "inputs": {"value": ["bad", 0]}}
    result = h.run(prompt)
    assert result.status == "success"
    assert result.outputs == {"2": {"value": [1]}}
    assert result.dropped_outputs == ["bad_out"]
    assert result.node_errors["bad"]["dependent_outputs"] == ["bad_out"]
    assert "bad" not in CALLS


def test_outputs_outside_a_cycle_still_run():
    h = Harness()
    prompt = chain(2)
    prompt.update({"a": {"class_type": "Add", "inputs": {"a": ["b", 0], "b": 1}},
                   "b": {"class_type": "Add", "inputs": {"a": ["a", 0], "b": 1}},
                   "o": {"class_type": "Record", "inputs": {"value": ["b", 0]}}})
    result = h.run(prompt)
    assert result.status == "success"
    assert result.outputs == {"2": {"value": [1]}}
    assert result.dropped_outputs == ["o"]


def test_targets_may_be_given_as_numbers(registry):
    prompt = {"1": {"class_type": "Const", "inputs": {"value": 1}}, "2": {"class_type": "Record",
                                                                          "inputs": {"value": ["1", 0]}}}
    assert validate_prompt(prompt, registry, targets=[2]).good_outputs == ["2"]


def test_invalid_prompt_does_not_execute_anything():
    h = Harness()
    prompt = chain(2)
    prompt["0"]["inputs"]["value"] = -5
    result = h.run(prompt)
    assert result.status == "error"
    assert result.error["type"] == "prompt_outputs_failed_validation"
    assert CALLS == [] and h.log.events == []


def test_wrapped_literal_list_is_unwrapped_not_a_link(registry):
    prompt = {"o": {"class_type": "Record", "inputs": {"value": {"__value__": ["a", 1]}}}}
    result = validate_prompt(prompt, registry)
    assert result.ok
    assert result.nodes["o"].consts == {"value": ["a", 1]}
    assert Harness().run(prompt).outputs == {"o": {"value": [["a", 1]]}}


def test_five_thousand_node_chain_validates_and_runs():
    h = Harness()
    result = h.run(chain(5000))
    assert result.status == "success"
    assert result.outputs == {"5000": {"value": [4999]}}
    assert len(CALLS) == 5001


@node(category="test", outputs=[Out("IMAGE")], output_node=True)
class ShowImage(Node):
    """Test-only: a required IMAGE socket and an optional MASK socket."""

    image: Annotated[object, Socket("IMAGE")]
    mask: Annotated[object, Socket("MASK")] = None

    def run(self, ctx):
        return (self.image,)


@pytest.mark.parametrize("value", ["x", 3, None])
def test_plain_value_for_a_tensor_socket_is_refused_naming_the_input(value):
    registry = make_registry()
    registry.register(ShowImage)
    error = only_error(validate_prompt({"s": {"class_type": "ShowImage", "inputs": {"image": value}}}, registry), "s")
    assert error["type"] == "bad_linked_input"
    assert error["extra_info"]["input_name"] == "image"
    assert "IMAGE" in error["message"] and "connected node" in error["details"]


def test_null_for_an_optional_tensor_socket_means_not_connected():
    registry = make_registry()
    registry.register(ShowImage)

    def refused_inputs(mask):
        result = validate_prompt({"s": {"class_type": "ShowImage", "inputs": {"image": "x", "mask": mask}}}, registry)
        return [e["extra_info"]["input_name"] for e in result.node_errors["s"]["errors"]]

    assert refused_inputs(None) == ["image"]
    assert refused_inputs("m") == ["image", "mask"]
