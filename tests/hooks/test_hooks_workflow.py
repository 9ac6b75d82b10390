"""A saved hooks workflow (LoRA hook with keyframes on a scheduled CLIP, carried to the positive) runs through
the executor and changes the picture; without the hooks it is the plain text-to-image picture."""

import json
from pathlib import Path

import numpy as np

PROMPT = json.loads((Path(__file__).parent / "data/sd15_hooks_workflow.json").read_text())


def test_hooks_workflow_runs_and_the_hooks_change_the_picture(loom):
    hooked = loom.image(loom.run(PROMPT))
    plain_prompt = json.loads(json.dumps(PROMPT))
    plain_prompt["6"]["inputs"]["clip"] = ["4", 1]
    plain = loom.image(loom.run(plain_prompt))
    assert hooked.shape == plain.shape == (64, 64, 3)
    assert np.abs(hooked - plain).mean() > 0.1
