"""Nodes that write or read files: latents, SVGs, videos, upscale models; what lands on disk and what comes
back."""

import json
from io import BytesIO

import av
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from nodes.image_io import PreviewImage, SaveImage
from nodes.latent_files import LoadLatent, SaveLatent
from nodes.svg_save import SVG, SaveSVGNode
from nodes.upscale_models import ImageUpscaleWithModel, UpscaleModelLoader
from nodes.video import CreateVideo, GetVideoComponents, LoadVideo, SaveVideo
from tests.fixtures.esrgan import esrgan_state_dict

PROMPT = {"1": {"class_type": "Example", "inputs": {}}}


def test_saved_latent_loads_back_unchanged_with_prompt_in_metadata(run_node, folders):
    samples = torch.randn(2, 4, 3, 5)
    result = run_node(SaveLatent, prompt=PROMPT, samples={"samples": samples}, filename_prefix="latents/test")
    entry = result.ui["latents"][0]
    path = folders.output_dir / entry["subfolder"] / entry["filename"]
    assert entry["filename"] == "test_00001_.latent"
    assert set(load_file(str(path))) == {"latent_tensor", "latent_format_version_0"}
    (folders.input_dir / "copy.latent").write_bytes(path.read_bytes())
    (loaded,) = run_node(LoadLatent, latent="copy.latent")
    assert torch.equal(loaded["samples"], samples)


def test_latent_without_version_marker_is_scaled_as_an_old_sd1_file(run_node, folders):
    save_file({"latent_tensor": torch.ones(1, 4, 2, 2)}, str(folders.input_dir / "old.latent"))
    (loaded,) = run_node(LoadLatent, latent="old.latent")
    assert torch.allclose(loaded["samples"], torch.full((1, 4, 2, 2), 1 / 0.18215))


def test_svg_is_saved_with_workflow_metadata(run_node, folders):
    svg = SVG([BytesIO(b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>')])
    result = run_node(SaveSVGNode, prompt=PROMPT, svg=svg, filename_prefix="svg/pic")
    entry = result.ui["images"][0]
    text = (folders.output_dir / entry["subfolder"] / entry["filename"]).read_text()
    assert text.startswith('<svg xmlns="http://www.w3.org/2000/svg">\n  <metadata>') and '"Example"' in text


def test_save_image_truncates_to_8_bits_like_comfyui(run_node, folders):
    image = torch.full((1, 2, 2, 3), 63.9 / 255)  # rounds to 64, truncates to 63
    result = run_node(SaveImage, images=image, filename_prefix="trunc")
    saved = Image.open(folders.output_dir / result.ui["images"][0]["filename"])
    assert saved.getpixel((0, 0)) == (63, 63, 63)
    assert result.ui["images"][0]["filename"] == "trunc_00001_.png"


def test_preview_image_goes_to_temp_with_comfyui_prefix(run_node, folders):
    result = run_node(PreviewImage, images=torch.zeros(1, 2, 2, 3))
    entry = result.ui["images"][0]
    assert entry["type"] == "temp" and entry["filename"].startswith("ComfyUI_temp_")


def test_video_saved_as_mp4_reloads_with_frames_fps_and_workflow(run_node, folders):
    ramp = torch.linspace(0, 1, 16)
    frames = torch.stack([ramp[None, :].expand(16, 16), ramp[:, None].expand(16, 16), torch.full((16, 16), 0.5)], -1)
    frames = frames.expand(3, -1, -1, -1).clone()
    (video,) = run_node(CreateVideo, images=frames, fps=12.0)
    result = run_node(SaveVideo, prompt=PROMPT, extra_pnginfo={"workflow": {"nodes": []}}, video=video,
                      filename_prefix="video/clip", format="auto", codec="auto")
    entry = result.ui["images"][0]
    path = folders.output_dir / entry["subfolder"] / entry["filename"]
    assert entry == {"filename": "clip_00001_.mp4", "subfolder": "video", "type": "output"}
    with av.open(str(path)) as container:
        assert json.loads(container.metadata["prompt"]) == PROMPT
        assert json.loads(container.metadata["workflow"]) == {"nodes": []}
    (folders.input_dir / "clip.mp4").write_bytes(path.read_bytes())
    (loaded,) = run_node(LoadVideo, file="clip.mp4")
    images, audio, fps = run_node(GetVideoComponents, video=loaded)
    assert images.shape == (3, 16, 16, 3) and audio is None and fps == 12.0
    assert (images - frames).abs().mean() < 0.03  # lossy H.264, same picture


def test_upscale_model_file_in_esrgan_layout_loads_and_doubles_the_size(run_node, folders):
    (folders.models_dir / "upscale_models").mkdir(parents=True, exist_ok=True)
    save_file(esrgan_state_dict(), str(folders.models_dir / "upscale_models" / "tiny_esrgan.safetensors"))
    (model,) = run_node(UpscaleModelLoader, model_name="tiny_esrgan.safetensors")
    assert model.architecture.name == "ESRGAN" and model.scale == 2
    (image,) = run_node(ImageUpscaleWithModel, upscale_model=model, image=torch.rand(1, 6, 5, 3))
    assert image.shape == (1, 12, 10, 3) and 0 <= image.min() and image.max() <= 1
