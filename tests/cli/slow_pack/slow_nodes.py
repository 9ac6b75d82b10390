"""A test pack with one slow output node that reports progress, so a run can be interrupted mid-node."""

import time

from engine.graph.context import ProgressBar


class SlowCount:
    CATEGORY = "testing"
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "count"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 600, "min": 1, "max": 100000})}}

    def count(self, steps):
        bar = ProgressBar(steps)
        for _ in range(steps):
            time.sleep(0.05)
            bar.update(1)
        return {"ui": {"counted": [steps]}}


NODE_CLASS_MAPPINGS = {"SlowCount": SlowCount}
