"""A seed-42 txt2img run gives the same 8-bit pixels in Loom as in ComfyUI 0.3.64 on the same checkpoint.

The PNGs and the API-format prompts in data/ come from tools/comfy_reference/txt2img_png.py, which ran
ComfyUI's own nodes on tests/fixtures/comfy_loadable_sd15.py's checkpoint (full-size CLIP-L and VAE, a
small SD1.5-shaped UNet); PNG metadata differs by design, so the decoded pixels are compared.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.fixtures.comfy_loadable_sd15 import make_comfy_loadable_sd15
from tests.fixtures.workflow_runner import Loom

DATA = Path(__file__).parent / "data"
PROMPTS = json.loads((DATA / "comfy_txt2img_prompts.json").read_text())


@pytest.fixture(scope="module")
def loom_with_checkpoint(tmp_path_factory):
    models = tmp_path_factory.mktemp("comfy_sd15_models")
    (models / "checkpoints").mkdir()
    ckpt_name = PROMPTS["euler_normal"]["4"]["inputs"]["ckpt_name"]
    make_comfy_loadable_sd15(models / "checkpoints" / ckpt_name)
    yield Loom(tmp_path_factory.mktemp("comfy_sd15_base"), models)


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize("name", sorted(PROMPTS))
def test_txt2img_png_pixels_equal_comfyui(loom_with_checkpoint, name):
    loom = loom_with_checkpoint
    result = loom.run(PROMPTS[name])
    saved = result.outputs["9"]["images"][0]
    ours = _pixels(loom.folders.output_dir / saved["subfolder"] / saved["filename"])
    theirs = _pixels(DATA / f"comfy_txt2img_{name}.png")
    assert ours.shape == theirs.shape == (64, 64, 3)
    diff = np.abs(ours.astype(np.int16) - theirs.astype(np.int16))
    assert np.array_equal(ours, theirs), f"max |diff| {diff.max()}, {np.count_nonzero(diff)} differing values"
