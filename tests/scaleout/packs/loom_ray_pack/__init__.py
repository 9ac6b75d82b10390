"""V1 nodes for the scale-out tests: a fake model loader (its model key is the file name), a slow
interruptible step with a preview, an output node writing a PNG into the output folder (each reports its
pid), and an output node counting the worker process's malloc arenas."""

import ctypes
import ctypes.util
import os
import tempfile
import time

from PIL import Image

from engine.graph.context import ProgressBar, current


class LoomRayLoad:
    """Pretends to load `ckpt_name`; the 'model' remembers which process loaded it."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": ("STRING", {"default": "model.safetensors"})}}

    RETURN_TYPES = ("LOOM_RAY_MODEL",)
    FUNCTION = "load"
    CATEGORY = "testing"

    def load(self, ckpt_name):
        return (f"{ckpt_name}@{os.getpid()}",)


class LoomRayWork:
    """`steps` steps of `delay` seconds with progress (where interrupts land); `tag` makes runs distinct."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": ("LOOM_RAY_MODEL",), "tag": ("STRING", {"default": ""}),
                             "steps": ("INT", {"default": 5, "min": 1, "max": 10000}),
                             "delay": ("FLOAT", {"default": 0.05, "min": 0.0, "max": 10.0})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "work"
    CATEGORY = "testing"

    def work(self, model, tag, steps, delay):
        bar = ProgressBar(steps)
        for _ in range(steps - 1):
            time.sleep(delay)
            bar.update(1)
        bar.update_absolute(steps, preview=Image.new("RGB", (8, 8), (0, 0, 255)))  # one preview frame per run
        return (f"{model}:{tag}",)


class LoomRaySave:
    """Writes a 4x4 PNG named after `tag` into the output folder and lists it like SaveImage."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("STRING", {"forceInput": True}), "tag": ("STRING", {"default": "x"})}}

    RETURN_TYPES = ()
    FUNCTION = "save"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def save(self, value, tag):
        filename = f"ray_{tag}.png"
        path = current().services.folders.safe_join("output", "", filename)
        Image.new("RGB", (4, 4), (200, 10, 10)).save(path)
        return {"ui": {"images": [{"filename": filename, "subfolder": "", "type": "output"}],
                       "pid": [os.getpid()], "value": [value]}}


class LoomRayArenas:
    """Allocates and frees in the prompt's thread, then reports how many arenas glibc's malloc_info lists."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"tag": ("STRING", {"default": ""})}}

    RETURN_TYPES = ()
    FUNCTION = "count"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def count(self, tag):
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.malloc.restype = libc.fopen.restype = ctypes.c_void_p
        for block in [libc.malloc(1 << 16) for _ in range(64)]:
            libc.free(ctypes.c_void_p(block))
        path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
        stream = libc.fopen(path.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        with open(path) as report:
            return {"ui": {"arenas": [report.read().count("<heap nr=")], "pid": [os.getpid()]}}


NODE_CLASS_MAPPINGS = {"LoomRayLoad": LoomRayLoad, "LoomRayWork": LoomRayWork, "LoomRaySave": LoomRaySave,
                       "LoomRayArenas": LoomRayArenas}
