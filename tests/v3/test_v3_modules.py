"""The comfy_api module names packs import resolve to Loom's objects (one object per name, VIDEO values are
Loom's own), and the API helpers refuse clearly when no node is running."""

from __future__ import annotations

import importlib

import pytest

import comfy_compat

MODULES = ["comfy_api.latest", "comfy_api.latest._io", "comfy_api.latest._ui", "comfy_api.v0_0_1",
           "comfy_api.v0_0_2", "comfy_api.input", "comfy_api.input.basic_types", "comfy_api.input.video_types",
           "comfy_api.input_impl", "comfy_api.input_impl.video_types", "comfy_api.util",
           "comfy_api.util.video_types", "comfy_api.version_list", "comfy_api.internal", "comfy.comfy_types",
           "comfy.comfy_types.node_typing"]


@pytest.fixture(autouse=True)
def installed():
    comfy_compat.install()


@pytest.mark.parametrize("name", MODULES)
def test_comfy_api_module_imports(name):
    assert importlib.import_module(name).__name__.startswith("comfy_compat.")


def test_versioned_apis_share_the_latest_node_classes():
    from comfy_api.latest import io
    from comfy_api.latest._io import ComfyNode
    from comfy_api.v0_0_2 import ComfyAPI
    from comfy_api.v0_0_2 import io as io_v2

    assert io_v2 is io and ComfyNode is io.ComfyNode
    assert ComfyAPI.VERSION == "0.0.2"


def test_video_values_are_loom_video_values():
    from comfy_api.input import VideoInput
    from comfy_api.input_impl import VideoFromComponents, VideoFromFile
    from comfy_api.latest import Input, InputImpl, Types
    from comfy_api.util import VideoComponents, VideoContainer

    import nodes.video_values as loom

    assert VideoInput is Input.Video is loom.Video
    assert (VideoFromFile, VideoFromComponents) == (loom.VideoFromFile, loom.VideoFromComponents)
    assert InputImpl.VideoFromFile is loom.VideoFromFile and Types.VideoComponents is VideoComponents
    assert VideoContainer.get_extension("auto") == "mp4" and VideoContainer.as_input() == ["auto", "mp4"]


def test_io_type_names_compare_like_link_types():
    from comfy.comfy_types import IO
    from comfy_api.latest import io

    differs = IO.__ne__  # the operator under test, called by name
    assert not differs(IO.ANY, "IMAGE") and not differs(IO.NUMBER, "INT") and differs(IO.INT, "FLOAT")
    assert io.Int.io_type == "INT" and not type(io.AnyType.io_type).__ne__(io.AnyType.io_type, "LATENT")
    assert io.Custom("MY_TYPE").Input("x").get_io_type() == "MY_TYPE"


def test_progress_outside_a_running_node_is_refused_with_the_reason():
    from comfy_api.latest import ComfyAPISync

    with pytest.raises(ValueError, match="no node is running"):
        ComfyAPISync().execution.set_progress(value=1, max_value=2)


def test_schema_with_repeated_ids_is_refused_naming_them():
    from comfy_api.latest import io

    class Twice(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="Twice", inputs=[io.Int.Input("x"), io.Float.Input("x")],
                             outputs=[io.Int.Output("x")])

        @classmethod
        def execute(cls, x):
            return io.NodeOutput(x)

    with pytest.raises(ValueError, match=r"Input ids must be unique, but \['x'\]"):
        Twice.GET_SCHEMA()


def test_node_class_without_execute_is_refused():
    from comfy_api.latest import io

    class NoExecute(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="NoExecute")

    with pytest.raises(TypeError, match="No execute function was defined for node class NoExecute"):
        NoExecute.GET_SCHEMA()


def test_internal_markers_and_override_lookup_see_v3_classes():
    from comfy_api.internal import _ComfyNodeInternal, _NodeOutputInternal, first_real_override
    from comfy_api.latest import io

    class Hooked(io.ComfyNode):
        @classmethod
        def fingerprint_inputs(cls, **kwargs):
            return 1

    assert issubclass(Hooked, _ComfyNodeInternal) and isinstance(io.NodeOutput(), _NodeOutputInternal)
    assert first_real_override(Hooked, "fingerprint_inputs") is not None
    assert first_real_override(Hooked, "validate_inputs") is None
