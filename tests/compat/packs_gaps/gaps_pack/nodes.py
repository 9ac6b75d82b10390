"""Nodes of the gaps pack, written against ComfyUI's V1 and V3 node protocols."""

from fractions import Fraction

import torch
from comfy_api.input_impl import VideoFromComponents
from comfy_api.latest import io
from comfy_api.util.video_types import VideoComponents


class GapsDisplayOnly:
    """Shows its text on the canvas; it has no FUNCTION, so it cannot run (as in efficiency-nodes)."""

    CATEGORY = "gaps"
    RETURN_TYPES = ()
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": "note"})}}


class GapsRange:
    CATEGORY = "gaps"
    RETURN_TYPES = ("INT",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"count": ("INT", {"default": 3})}}

    def run(self, count):
        return (list(range(count)),)


class GapsShortV1:
    """Declares two outputs but returns only the first (as Comfyroll's CR Batch Images From List)."""

    CATEGORY = "gaps"
    RETURN_TYPES = ("INT", "INT")
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1})}}

    def run(self, value):
        return (value * 10,)


class GapsShortV3(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(node_id="GapsShortV3", category="gaps", inputs=[io.Int.Input("value", default=1)],
                         outputs=[io.Int.Output("first"), io.Int.Output("second")])

    @classmethod
    def execute(cls, value: int) -> io.NodeOutput:
        return io.NodeOutput(value + 1)


class GapsNoResultV3(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(node_id="GapsNoResultV3", category="gaps", inputs=[io.Int.Input("value", default=1)],
                         outputs=[io.Int.Output()], is_output_node=True)

    @classmethod
    def execute(cls, value: int) -> io.NodeOutput:
        return io.NodeOutput(ui={"text": [str(value)]})


class GapsVideoDuration:
    """Builds a VIDEO the way packs do, VideoComponents(images, frame_rate) positionally, and measures it."""

    CATEGORY = "gaps"
    RETURN_TYPES = ("FLOAT", "INT")
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"frames": ("INT", {"default": 6}), "fps": ("INT", {"default": 4})}}

    def run(self, frames, fps):
        parts = VideoComponents(torch.zeros(frames, 8, 8, 3), Fraction(fps))
        video = VideoFromComponents(parts)
        return (video.get_duration(), int(video.get_components().frame_rate))


class GapsShow:
    """Shows what it received: a value, or "None" when the output it reads was never returned."""

    CATEGORY = "gaps"
    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}}

    def show(self, value):
        return {"ui": {"value": [value]}}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (GapsDisplayOnly, GapsRange, GapsShortV1, GapsShortV3,
                                                      GapsNoResultV3, GapsVideoDuration, GapsShow)}
