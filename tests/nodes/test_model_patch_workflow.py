"""workflows/sd15_model_patches.json runs headless: four model-patch nodes stacked on one MODEL (block patch,
post-CFG guidance pass, attention tiling, weight patch) change the picture of the same seed's txt2img, and
the checkpoint's own MODEL is left unpatched for the next prompt."""

import numpy as np
import pytest

from tests.fixtures.workflow_runner import Loom, workflow, write_checkpoints


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_checkpoints(root, families=["sd15"])
    return root


def test_stacked_model_patches_change_the_picture_and_leave_the_model_alone(tmp_path, models_dir):
    loom = Loom(tmp_path, models_dir)
    plain_before = loom.image(loom.run(workflow("sd15_txt2img", steps=2)))
    patched = loom.image(loom.run(workflow("sd15_model_patches", steps=2)))
    plain_after = loom.image(loom.run(workflow("sd15_txt2img", steps=2)))
    assert patched.shape == plain_before.shape and patched.std() > 0
    assert np.abs(patched - plain_before).mean() > 0.5
    assert np.array_equal(plain_before, plain_after)
