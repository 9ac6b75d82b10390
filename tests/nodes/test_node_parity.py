"""Loom's non-model nodes give ComfyUI 0.3.64's numbers: each case of data/comfy_node_cases.json (written by
tools/comfy_reference/nodes_reference.py, which ran ComfyUI's own node classes) is run through the Loom node
of the same name and every output is compared: tensors at float32 tolerance (rtol 1e-5, atol 1e-5; exact
where ComfyUI's result is exact), shapes exactly, strings, numbers, booleans and batch indices exactly.
Image loaders read the small files of data/images. Upscale models are the seeded tiny ESRGAN of tests/fixtures/esrgan.py, which both sides build.
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.graph.context import ExecutionContext, Services
from engine.graph.native import NodeOutput
from engine.graph.registry import build_default_registry
from engine.paths import Folders
from nodes.upscale_models import tiled_upscale
from tests.fixtures.esrgan import esrgan_state_dict

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "comfy_node_cases.json").read_text())
CASES = REFERENCE["cases"]
RTOL = ATOL = 1e-5


@pytest.fixture(scope="module")
def arrays():
    with np.load(DATA / "comfy_node_arrays.npz") as loaded:
        return {key: loaded[key] for key in loaded.files}


@pytest.fixture(scope="module")
def node_classes():
    registry, _ = build_default_registry()
    return {name: registry.get(name).cls for name in registry.names() if hasattr(registry.get(name), "cls")}


def run_node(classes: dict, name: str, inputs: dict, ctx) -> tuple:
    result = classes[name].model_construct(**inputs).run(ctx)
    if isinstance(result, NodeOutput):  # an output node: its ui data stands in for the outputs
        return tuple(result.result) if result.result else (result.ui,)
    return tuple(result)


def esrgan(seed: int):
    from spandrel import ModelLoader

    return ModelLoader().load_from_state_dict(esrgan_state_dict(seed)).eval()


def decode(value, arrays: dict, call):
    if isinstance(value, dict) and "esrgan" in value:
        return esrgan(value["esrgan"])
    if isinstance(value, dict) and "t" in value:
        return torch.from_numpy(arrays[value["t"]].copy())
    if isinstance(value, dict) and "latent" in value:
        return {k: decode(v, arrays, call) for k, v in value["latent"].items()}
    if isinstance(value, dict) and "list" in value:
        return [decode(v, arrays, call) for v in value["list"]]
    if isinstance(value, dict) and "node" in value:
        return call(value["node"], {k: decode(v, arrays, call) for k, v in value["inputs"].items()})[0]
    return value


def assert_same(got, expected, arrays: dict, where: str) -> None:
    if isinstance(expected, dict) and "t" in expected:
        want = arrays[expected["t"]]
        assert isinstance(got, torch.Tensor), f"{where}: expected a tensor, got {type(got).__name__}"
        have = got.detach().cpu().float().numpy()
        assert have.shape == want.shape, f"{where}: shape {have.shape}, ComfyUI {want.shape}"
        np.testing.assert_allclose(have, want, rtol=RTOL, atol=ATOL, err_msg=where)
    elif isinstance(expected, dict) and "latent" in expected:
        assert isinstance(got, dict) and sorted(got) == sorted(expected["latent"]), \
            f"{where}: keys {sorted(got) if isinstance(got, dict) else got}, ComfyUI {sorted(expected['latent'])}"
        for key, value in expected["latent"].items():
            assert_same(got[key], value, arrays, f"{where}.{key}")
    elif isinstance(expected, dict) and "list" in expected:
        assert len(got) == len(expected["list"]), f"{where}: {len(got)} items, ComfyUI {len(expected['list'])}"
        for index, value in enumerate(expected["list"]):
            assert_same(got[index], value, arrays, f"{where}[{index}]")
    else:
        assert got == expected and type(got) is type(expected), f"{where}: {got!r}, ComfyUI {expected!r}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c['node']}-{c['id']}" for c in CASES])
def test_node_matches_comfyui(case, arrays, node_classes, tmp_path):
    folders = Folders(tmp_path)
    folders.ensure()
    for image in (DATA / "images").iterdir():  # the files the image loaders read
        shutil.copy(image, folders.input_dir / image.name)
    ctx = ExecutionContext("1", "parity", {}, Services(folders=folders))

    def call(name, inputs):
        return run_node(node_classes, name, inputs, ctx)

    outputs = call(case["node"], {k: decode(v, arrays, call) for k, v in case["inputs"].items()})
    assert len(outputs) == len(case["outputs"])
    for index, expected in enumerate(case["outputs"]):
        assert_same(outputs[index], expected, arrays, f"{case['node']} output {index}")


@pytest.mark.parametrize("case", REFERENCE["tiled"], ids=lambda c: f"tile{c['tile']}-overlap{c['overlap']}")
def test_tiled_upscale_blends_tiles_like_comfyui(case, arrays):
    image = decode(case["image"], arrays, None)
    with torch.inference_mode():
        out = tiled_upscale(image, esrgan(case["seed"]), 2, tile=case["tile"], overlap=case["overlap"])
    assert_same(out, case["output"], arrays, "tiled_upscale")


def test_save_image_writes_the_png_comfyui_writes(arrays, tmp_path):
    """Same pixels (truncated, clipped) and, without metadata, the same file bytes."""
    from nodes.image_io import SaveImage

    folders = Folders(tmp_path)
    folders.ensure()
    ctx = ExecutionContext("1", "parity", {}, Services(folders=folders, settings={"disable_metadata": True}))
    image = torch.from_numpy(arrays["image_saved"].copy())
    entry = SaveImage.model_construct(images=image, filename_prefix="loom").run(ctx).ui["images"][0]
    written = (folders.output_dir / entry["filename"]).read_bytes()
    assert written == (DATA / "images" / "saved_by_comfyui.png").read_bytes()


def test_saved_video_is_the_mp4_comfyui_writes_and_decodes_to_the_same_frames(arrays, tmp_path):
    from nodes.video import CreateVideo, GetVideoComponents, LoadVideo

    folders = Folders(tmp_path)
    folders.ensure()
    ctx = ExecutionContext("1", "parity", {}, Services(folders=folders))
    (video,) = CreateVideo.model_construct(images=torch.from_numpy(arrays["video_frames"].copy()), fps=12.0).run(ctx)
    video.save_to(tmp_path / "loom.mp4")
    comfyui_file = DATA / "images" / "video_by_comfyui.mp4"
    assert (tmp_path / "loom.mp4").read_bytes() == comfyui_file.read_bytes()
    shutil.copy(comfyui_file, folders.input_dir / "clip.mp4")
    (loaded,) = LoadVideo.model_construct(file="clip.mp4").run(ctx)
    images, _, fps = GetVideoComponents.model_construct(video=loaded).run(ctx)
    assert fps == 12.0
    assert_same(images, {"t": "video_decoded"}, arrays, "decoded frames")


@pytest.mark.parametrize("node_name,extension", [("SaveAnimatedWEBP", "webp"), ("SaveAnimatedPNG", "png")])
def test_animation_has_comfyuis_frames_and_durations(node_name, extension, arrays, node_classes, tmp_path):
    from PIL import Image, ImageSequence

    folders = Folders(tmp_path)
    folders.ensure()
    ctx = ExecutionContext("1", "parity", {}, Services(folders=folders, settings={"disable_metadata": True}))
    options = {"lossless": True, "quality": 80, "method": "default"} if extension == "webp" else {"compress_level": 4}
    result = node_classes[node_name].model_construct(images=torch.from_numpy(arrays["image_a"].copy()),
                                                     filename_prefix="anim", fps=7.0, **options).run(ctx)

    def frames(path):
        with Image.open(path) as opened:
            return [(np.asarray(f.convert("RGB")).copy(), f.info.get("duration")) for f in ImageSequence.Iterator(opened)]

    ours = frames(folders.output_dir / result.ui["images"][0]["filename"])
    theirs = frames(DATA / "images" / f"animated_by_comfyui.{extension}")
    assert len(ours) == len(theirs) == 2
    for (pixels, duration), (want_pixels, want_duration) in zip(ours, theirs, strict=True):
        assert duration == want_duration and np.array_equal(pixels, want_pixels)
