"""workflows/sd15_hires_fix_upscale_model.json and workflows/video_save.json run headless end to end: the
hires fix on a tiny SD1.5 checkpoint and a tiny ESRGAN written on the fly (original ESRGAN key layout, so
spandrel must detect it), the video workflow writing a playable MP4 with its prompt."""

import json

import av
import pytest
import torch
from PIL import Image

from tests.fixtures.esrgan import esrgan_state_dict
from tests.fixtures.workflow_runner import SIZE, Loom, workflow, write_checkpoints


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_checkpoints(root, families=["sd15"])
    (root / "upscale_models").mkdir()
    torch.save(esrgan_state_dict(), root / "upscale_models" / "RealESRGAN_x2.pth")
    return root


@pytest.fixture
def loom(tmp_path, models_dir):
    return Loom(tmp_path, models_dir)


def test_hires_fix_with_an_upscale_model_saves_a_picture_one_and_a_half_times_larger(loom):
    result = loom.run(workflow("sd15_hires_fix_upscale_model", steps=2))
    image = loom.image(result)
    assert image.shape == (SIZE * 3 // 2, SIZE * 3 // 2, 3) and image.std() > 0
    assert result.outputs["9"]["images"][0]["filename"] == "sd15_hires_fix_00001_.png"


def test_video_workflow_writes_an_mp4_with_every_frame_its_fps_and_prompt(loom):
    prompt = workflow("video_save")
    result = loom.run(prompt)
    entry = result.outputs["5"]["images"][0]
    assert entry["subfolder"] == "video" and entry["filename"] == "ComfyUI_00001_.mp4"
    with av.open(str(loom.folders.output_dir / "video" / entry["filename"])) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(video=0))
        assert (stream.width, stream.height, stream.average_rate) == (64, 64, 8)
        assert len(frames) == 8
        assert json.loads(container.metadata["prompt"])["4"]["class_type"] == "CreateVideo"


def test_captioned_image_folder_loads_every_image_and_encodes_each_caption(loom):
    folder = loom.folders.input_dir / "set"
    (folder / "2_repeat").mkdir(parents=True)
    Image.new("RGB", (8, 6), (255, 0, 0)).save(folder / "a.png")
    (folder / "a.txt").write_text("a red square")
    Image.new("RGB", (4, 4), (0, 0, 255)).save(folder / "2_repeat" / "b.jpg")
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
        "2": {"class_type": "LoadImageTextSetFromFolderNode",
              "inputs": {"folder": "set", "clip": ["1", 1], "resize_method": "Stretch"}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
        "4": {"class_type": "PreviewAny", "inputs": {"source": ["2", 1]}},
    }
    result = loom.run(prompt)
    assert len(result.outputs["3"]["images"]) == 3  # a.png, then b.jpg twice (the 2_ prefix repeats it)
    assert result.outputs["4"]["text"][0].count("pooled_output") == 3  # one encoded caption per image
