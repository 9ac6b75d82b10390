"""The sd15_controlnet_canny workflow as the ControlNet tests run it: a house drawing as input, a few steps,
the sampler's latent captured, and the same prompt without any ControlNet."""

import numpy as np
from PIL import Image

from tests.fixtures.workflow_runner import SIZE, workflow

STEPS = 3


def house(loom, size=(SIZE, SIZE)):
    pixels = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    pixels[size[1] // 4:, size[0] // 5: 4 * size[0] // 5] = 220
    pixels[size[1] // 2:, 2 * size[0] // 5: 3 * size[0] // 5] = 60
    Image.fromarray(pixels).save(loom.folders.input_dir / "house.png")


def canny_prompt(loom, **apply):
    house(loom)
    prompt = workflow("sd15_controlnet_canny", steps=STEPS)
    prompt["14"]["inputs"].update(apply)
    prompt["20"] = {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}}
    return prompt


def latent(loom, prompt):
    return loom.run(prompt).outputs["20"]["latent"][0]["samples"]


def without_control(prompt):
    prompt = {k: v for k, v in prompt.items() if k not in ("11", "12", "13", "14")}
    prompt["3"]["inputs"].update(positive=["6", 0], negative=["7", 0])
    return prompt
