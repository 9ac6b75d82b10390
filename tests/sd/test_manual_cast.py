"""Manual cast: an fp16 checkpoint stays in fp16 in memory (about half the bytes) while every layer
computes in fp32 on the CPU, so the image equals the one from weights upcast to fp32 at load."""

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.workflow_runner import Loom, workflow

SD15 = "v1-5-pruned-emaonly.safetensors"


@pytest.fixture(scope="module")
def fp16_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("fp16_models")
    (root / "checkpoints").mkdir()
    path = make_tiny_checkpoint("sd15", root / "checkpoints" / SD15)
    save_file({k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}, str(path))
    return root


def _unet_load(loom):
    return next(e.data for e in loom.events.events if e.type == "model_load" and "(unet)" in e.data["model"])


def test_manual_cast_keeps_fp16_weights_and_gives_the_fp32_image(tmp_path, fp16_models):
    upcast = Loom(tmp_path / "upcast", fp16_models)
    cast = Loom(tmp_path / "cast", fp16_models, manual_cast=True)
    expected = upcast.image(upcast.run(workflow("sd15_txt2img")))
    image = cast.image(cast.run(workflow("sd15_txt2img")))
    assert np.abs(image - expected).max() <= 1.0  # within 1/255 per channel
    assert _unet_load(cast)["bytes"] * 2 == _unet_load(upcast)["bytes"]
    assert _unet_load(cast)["dtype"] == "float32"
    unet = next(s for s in cast.manager._slots.values() if s.kind != "vae" and "(unet)" in s.name)
    assert {p.dtype for p in unet.module.parameters()} == {torch.float16}
    assert cast.manager.used("cpu") < upcast.manager.used("cpu")
