"""Nodes for benchmarks/scaleout.py: one burns CPU in pure Python, one shows a number."""

import time


class LoomBenchBurn:
    """Spins for `seconds` of this thread's CPU time; `seed` keeps runs apart (no cache hits)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 0.2, "min": 0.0, "max": 60.0}),
                             "seed": ("INT", {"default": 0, "min": 0, "max": 2**31})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "burn"
    CATEGORY = "testing"

    def burn(self, seconds, seed):
        start, total = time.thread_time(), seed
        while time.thread_time() - start < seconds:
            total = sum(range(2000)) + total % 7
        return (total,)


class LoomBenchShow:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0, "min": -(2**62), "max": 2**62})}}

    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def show(self, value):
        return {"ui": {"value": [value]}}


NODE_CLASS_MAPPINGS = {"LoomBenchBurn": LoomBenchBurn, "LoomBenchShow": LoomBenchShow}
