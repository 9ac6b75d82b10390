"""The sd15_lora example workflow end to end: the LoRA steers the picture and strength 0 is a no-op."""

import numpy as np

from tests.fixtures.workflow_runner import SIZE, workflow


def test_lora_workflow_writes_png_and_changes_the_picture(loom):
    prompt = workflow("sd15_lora")
    with_lora = loom.image(loom.run(prompt))
    assert with_lora.shape == (SIZE, SIZE, 3)
    prompt["10"]["inputs"].update(strength_model=0.0, strength_clip=0.0)
    without = loom.image(loom.run(prompt))
    prompt["3"]["inputs"]["model"], prompt["6"]["inputs"]["clip"], prompt["7"]["inputs"]["clip"] = \
        ["4", 0], ["4", 1], ["4", 1]
    assert np.array_equal(without, loom.image(loom.run(prompt)))
    assert np.abs(with_lora - without).mean() > 0.1
