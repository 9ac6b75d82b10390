"""Non-ML V1 nodes for the server tests: integers flow through, one node is slow, one crashes."""

import time

from PIL import Image

from engine.graph.context import ProgressBar, current

_INT = ("INT", {"default": 0, "min": -(10**9), "max": 10**9})


class LoomTestConst:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": _INT}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, value):
        return (value,)


class LoomTestAdd:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": _INT, "b": _INT}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, a, b):
        return (a + b,)


class LoomTestShow:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": _INT}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def run(self, value):
        return {"ui": {"value": [value]}, "result": ()}


class LoomTestSlow:
    """Counts `steps` steps of `delay` seconds, reporting progress (where interrupts land)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": _INT, "steps": ("INT", {"default": 5, "min": 1, "max": 100000}),
                             "delay": ("FLOAT", {"default": 0.05, "min": 0.0, "max": 60.0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, value, steps, delay):
        bar = ProgressBar(steps)
        for _ in range(steps):
            time.sleep(delay)
            bar.update(1)
        return (value,)


class LoomTestPreview:
    """Sends one red preview image, then passes its input through."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": _INT}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, value):
        ProgressBar(1).update_absolute(1, 1, preview=Image.new("RGB", (8, 8), (255, 0, 0)))
        return (value,)


class LoomTestWriteText:
    """Writes its value to output/<subfolder>/<name>.txt and lists the file like SaveImage does."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": _INT, "name": ("STRING", {"default": "value"}),
                             "subfolder": ("STRING", {"default": ""})}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def run(self, value, name, subfolder):
        path = current().services.folders.safe_join("output", subfolder, f"{name}.txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(str(value))
        return {"ui": {"files": [{"filename": path.name, "subfolder": subfolder, "type": "output"}]}}


class LoomTestBoom:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": _INT}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "testing"

    def run(self, value):
        raise RuntimeError(f"boom on purpose ({value})")


class LoomTestExit:
    """Leaves the way a careless pack does: sys.exit() or a KeyboardInterrupt of its own."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"how": (["exit", "keyboard"],)}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def run(self, how):
        raise SystemExit(3) if how == "exit" else KeyboardInterrupt


class LoomTestLength:
    """An output node that shows the length of a string widget (big literals go through it)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"multiline": True})}, "optional": {"fail": ("BOOLEAN", {})}}

    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def run(self, text, fail=False):
        if fail:
            raise ValueError(f"asked to fail on a text of {len(text)} characters")
        return {"ui": {"length": [len(text)]}, "result": ()}


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (LoomTestConst, LoomTestAdd, LoomTestShow, LoomTestSlow,
                                                     LoomTestPreview, LoomTestWriteText,
                                                     LoomTestBoom, LoomTestExit, LoomTestLength)}
