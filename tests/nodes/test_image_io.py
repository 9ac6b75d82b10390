"""LoadImage / SaveImage / PreviewImage: files written, names, embedded workflow, masks."""

from datetime import datetime

import numpy as np
import pytest
import torch
from PIL import Image

from engine.graph.context import Services
from engine.graph.executor import Executor
from engine.graph.registry import NodeRegistry
from engine.graph.workflow_io import load_workflow
from engine.paths import UnsafePath
from nodes import image_io
from nodes.image_io import LoadImage, LoadImageMask, PreviewImage, SaveImage

PROMPT = {"1": {"class_type": "EmptyImage", "inputs": {"width": 4, "height": 4, "batch_size": 2, "color": 0}},
          "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "pic"}}}
WORKFLOW = {"nodes": [], "links": [], "version": 0.4}


def images(n=2, value=0.5):
    return torch.full((n, 4, 6, 3), value)


def test_save_writes_numbered_pngs_with_prompt_and_workflow(run_node, folders):
    out = run_node(SaveImage, prompt=PROMPT, extra_pnginfo={"workflow": WORKFLOW}, images=images(),
                   filename_prefix="pic")
    assert out.ui == {"images": [{"filename": "pic_00001_.png", "subfolder": "", "type": "output"},
                                 {"filename": "pic_00002_.png", "subfolder": "", "type": "output"}]}
    saved = folders.output_dir / "pic_00001_.png"
    assert Image.open(saved).size == (6, 4)
    assert load_workflow(saved) == (PROMPT, WORKFLOW)


def test_save_continues_after_the_highest_existing_counter(run_node, folders):
    (folders.output_dir / "pic_00007_.png").write_bytes(b"")
    (folders.output_dir / "other_00050_.png").write_bytes(b"")
    out = run_node(SaveImage, images=images(1), filename_prefix="pic")
    assert out.ui["images"][0]["filename"] == "pic_00008_.png"


def test_prefix_subfolders_are_created_inside_output(run_node, folders):
    out = run_node(SaveImage, images=images(1), filename_prefix="day1/portraits/me")
    assert out.ui["images"] == [{"filename": "me_00001_.png", "subfolder": "day1/portraits", "type": "output"}]
    assert (folders.output_dir / "day1/portraits/me_00001_.png").is_file()


@pytest.mark.parametrize("prefix", ["../escape", "a/../../escape", "/tmp/escape"])
def test_prefix_escaping_output_is_refused(run_node, folders, prefix):
    with pytest.raises(UnsafePath, match="filename_prefix"):
        run_node(SaveImage, images=images(1), filename_prefix=prefix)
    assert not list(folders.base_dir.parent.glob("escape*"))


def test_disable_metadata_writes_plain_png(run_node, folders):
    run_node(SaveImage, prompt=PROMPT, settings={"disable_metadata": True}, images=images(1), filename_prefix="p")
    assert "prompt" not in Image.open(folders.output_dir / "p_00001_.png").info


def test_preview_goes_to_temp(run_node, folders):
    out = run_node(PreviewImage, images=images(1))
    (entry,) = out.ui["images"]
    assert entry["type"] == "temp"
    assert (folders.temp_dir / entry["filename"]).is_file()
    assert not list(folders.output_dir.iterdir())


def test_load_image_mask_is_inverted_alpha(run_node, folders):
    rgba = np.zeros((3, 5, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 3] = 255
    rgba[0, 0, 3] = 0  # one transparent pixel
    Image.fromarray(rgba, "RGBA").save(folders.input_dir / "cut.png")
    image, mask = run_node(LoadImage, image="cut.png")
    assert image.shape == (1, 3, 5, 3) and mask.shape == (1, 3, 5)
    assert torch.allclose(image[0, 1, 1], torch.tensor([1.0, 0.0, 0.0]))
    assert mask[0, 0, 0] == 1.0 and mask.sum() == 1.0


def test_load_image_without_alpha_has_empty_mask(run_node, folders):
    Image.new("RGB", (4, 2), (0, 0, 255)).save(folders.input_dir / "blue.jpg")
    image, mask = run_node(LoadImage, image="blue.jpg")
    assert image.shape == (1, 2, 4, 3) and torch.all(mask == 0)


def test_load_image_refuses_names_outside_input(run_node):
    with pytest.raises(UnsafePath):
        run_node(LoadImage, image="../secret.png")


def test_load_image_reruns_only_when_the_file_changes(folders):
    registry = NodeRegistry(Services(folders=folders))
    registry.register_module(image_io)
    Image.new("RGB", (2, 2), "red").save(folders.input_dir / "in.png")
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
              "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}}}
    executor = Executor(registry)
    assert "1" in executor.run(prompt).executed
    assert "1" in executor.run(prompt).cached  # same file: not loaded again
    Image.new("RGB", (2, 2), "blue").save(folders.input_dir / "in.png")
    assert "1" in executor.run(prompt).executed  # same name, new content: loaded again


def test_prefix_variables_are_expanded(run_node, folders):
    prompt = {"5": {"class_type": "KSampler", "inputs": {"seed": 42, "model": ["1", 0]}, "_meta": {"title": "Pass"}}}
    out = run_node(SaveImage, prompt=prompt, images=images(2), filename_prefix="%date:yyyy%/s%Pass.seed%_%width%x%height%")
    year = str(datetime.now().year)
    assert [i["filename"] for i in out.ui["images"]] == ["s42_6x4_00001_.png", "s42_6x4_00002_.png"]
    assert out.ui["images"][0]["subfolder"] == year
    assert (folders.output_dir / year / "s42_6x4_00002_.png").is_file()


def test_batch_num_names_share_one_counter(run_node):
    run_node(SaveImage, images=images(2), filename_prefix="b%batch_num%")
    out = run_node(SaveImage, images=images(2), filename_prefix="b%batch_num%")
    assert [i["filename"] for i in out.ui["images"]] == ["b0_00003_.png", "b1_00004_.png"]


def test_sixteen_bit_grayscale_keeps_its_range(run_node, folders):
    gray = np.full((2, 3), 32768, dtype=np.uint16)
    Image.fromarray(gray).save(folders.input_dir / "deep.png")
    image, _ = run_node(LoadImage, image="deep.png")
    assert image.shape == (1, 2, 3, 3)
    assert torch.allclose(image, torch.full_like(image, 32768 / 65535))


def test_load_image_mask_picks_a_channel(run_node, folders):
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)
    rgba[0, 0] = [255, 0, 0, 0]  # transparent red pixel
    rgba[1, 1] = [0, 0, 0, 255]
    Image.fromarray(rgba, "RGBA").save(folders.input_dir / "m.png")
    (red,) = run_node(LoadImageMask, image="m.png", channel="red")
    (alpha,) = run_node(LoadImageMask, image="m.png", channel="alpha")
    assert red.shape == (1, 2, 2) and red[0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert alpha[0].tolist() == [[1.0, 1.0], [1.0, 0.0]]  # transparent = 1
    Image.new("RGB", (3, 2)).save(folders.input_dir / "opaque.png")
    (none,) = run_node(LoadImageMask, image="opaque.png", channel="alpha")
    assert none.shape == (1, 2, 3) and none.sum() == 0
