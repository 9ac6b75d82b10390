"""V1 nodes using folder_paths, comfy.utils.ProgressBar, comfy.model_management, server and GraphBuilder."""

import time

import comfy.model_management
import comfy.utils
import folder_paths
from comfy_execution.graph_utils import GraphBuilder, is_link
from server import PromptServer

import nodes


class CompatCheckpointPath:
    CATEGORY = "compat"
    RETURN_TYPES = ("STRING",)
    FUNCTION = "find"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": (folder_paths.get_filename_list("checkpoints"),)}}

    def find(self, ckpt_name):
        return (folder_paths.get_full_path_or_raise("checkpoints", ckpt_name),)


class CompatCount:
    """Counts to `steps`, one progress step and one websocket message per step; stops itself at `stop_at`."""

    CATEGORY = "compat"
    RETURN_TYPES = ("INT",)
    FUNCTION = "count"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 3, "min": 1, "max": nodes.MAX_RESOLUTION}),
                             "stop_at": ("INT", {"default": 0, "min": 0})}}

    def count(self, steps, stop_at):
        bar = comfy.utils.ProgressBar(steps)
        server = PromptServer.instance
        done = 0
        for step in range(1, steps + 1):
            if step == stop_at:
                comfy.model_management.interrupt_current_processing()
            comfy.model_management.throw_exception_if_processing_interrupted()
            server.send_sync("compat_pack.step", {"step": step, "node": server.last_node_id}, server.client_id)
            bar.update(1)
            done = step
        return (done,)


class CompatWaitForInterrupt:
    """Reports progress until someone interrupts the prompt (at most `seconds`), then stops."""

    CATEGORY = "compat"
    RETURN_TYPES = ("INT",)
    FUNCTION = "wait"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 30.0})}}

    def wait(self, seconds):
        bar = comfy.utils.ProgressBar(0)
        deadline = time.monotonic() + seconds
        while not comfy.model_management.processing_interrupted() and time.monotonic() < deadline:
            bar.update_absolute(0, 0)
            time.sleep(0.02)
        comfy.model_management.throw_exception_if_processing_interrupted()
        return (0,)


class CompatAdd:
    CATEGORY = "compat"
    RETURN_TYPES = ("INT",)
    FUNCTION = "add"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"default": 0}), "b": ("INT", {"default": 0})}}

    def add(self, a, b):
        return (a + b,)


class CompatDouble:
    """Expands into a CompatAdd of its input with itself."""

    CATEGORY = "compat"
    RETURN_TYPES = ("INT",)
    FUNCTION = "double"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1})}}

    def double(self, value):
        graph = GraphBuilder()
        add = graph.node("CompatAdd", a=value, b=value)
        assert is_link(add.out(0))
        return {"result": (add.out(0),), "expand": graph.finalize()}


class CompatShow:
    CATEGORY = "compat"
    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}}

    def show(self, value):
        known = "CompatAdd" in nodes.NODE_CLASS_MAPPINGS
        return {"ui": {"value": [value], "registry_sees_pack": [known]}}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (CompatCheckpointPath, CompatCount, CompatWaitForInterrupt, CompatAdd,
                                                      CompatDouble, CompatShow)}
NODE_DISPLAY_NAME_MAPPINGS = {"CompatCount": "Count (compat)"}
