"""Image to video end to end through the real executor on tiny checkpoints: the example workflows write
an animated WebP and an MP4 whose frame count, size and fps read back as asked."""

import json
from pathlib import Path

import av
from PIL import Image, ImageSequence

from engine.graph.workflow_io import load_workflow

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 5, 7


def shrunk(name: str, steps: int = 2) -> dict:
    """A workflow from workflows/ at WIDTH x HEIGHT, FRAMES frames at FPS, `steps` sampling steps."""
    prompt = json.loads((WORKFLOWS / f"{name}.json").read_text())
    for entry in prompt.values():
        inputs, kind = entry["inputs"], entry["class_type"]
        if kind in ("SVD_img2vid_Conditioning", "EmptyLatentImage"):
            inputs.update(width=WIDTH, height=HEIGHT)
        if kind == "SVD_img2vid_Conditioning":
            inputs.update(video_frames=FRAMES, fps=FPS)
        if kind in ("SaveAnimatedWEBP", "SaveVideoMP4"):
            inputs["fps"] = float(FPS)
        if kind == "KSampler":
            inputs["steps"] = steps
    return prompt


def saved(loom, result, node_id: str) -> Path:
    entry = result.outputs[node_id]["images"][0]
    return loom.folders.output_dir / entry["subfolder"] / entry["filename"]


def read_webp(path: Path) -> tuple[list[Image.Image], list[int], dict]:
    with Image.open(path) as image:
        frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            image.load()
            durations.append(image.info["duration"])
        return frames, durations, dict(image.getexif())


def read_mp4(path: Path) -> tuple[int, tuple[int, int], float, dict]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return count, (stream.codec_context.width, stream.codec_context.height), float(stream.average_rate), \
            dict(container.metadata)


def test_svd_img2vid_writes_webp_and_mp4_with_frames_size_fps_and_workflow(loom):
    loom.put_input_image("example.png")
    prompt = shrunk("svd_img2vid")
    result = loom.executor.run(prompt, extra_data={"extra_pnginfo": {"workflow": {"nodes": []}}})
    assert result.status == "success", result.error or result.node_errors

    frames, durations, exif = read_webp(saved(loom, result, "7"))
    assert len(frames) == FRAMES and frames[0].size == (WIDTH, HEIGHT)
    assert durations == [int(1000 / FPS)] * FRAMES  # whole milliseconds, truncated as ComfyUI writes them
    assert json.loads(exif[0x0110].removeprefix("prompt:")) == prompt
    assert json.loads(exif[0x010F].removeprefix("workflow:")) == {"nodes": []}

    count, size, fps, tags = read_mp4(saved(loom, result, "8"))
    assert (count, size, fps) == (FRAMES, (WIDTH, HEIGHT), FPS)
    assert json.loads(tags["comment"])["prompt"] == prompt
    for node_id in ("7", "8"):  # both files reload as their workflow
        assert load_workflow(saved(loom, result, node_id)) == (prompt, {"nodes": []})


def test_sdxl_to_svd_turns_a_generated_still_into_a_video(loom):
    result = loom.run(shrunk("sdxl_to_svd"))
    still = Image.open(saved(loom, result, "9"))
    frames, _, _ = read_webp(saved(loom, result, "15"))
    assert still.size == (WIDTH, HEIGHT)
    assert len(frames) == FRAMES and frames[0].size == (WIDTH, HEIGHT)


def test_animated_png_holds_every_frame_and_the_prompt(loom):
    node_id = "7"
    loom.put_input_image("example.png")
    prompt = shrunk("svd_img2vid")
    prompt[node_id] = {"class_type": "SaveAnimatedPNG",
                       "inputs": {"images": ["6", 0], "filename_prefix": "apng", "fps": float(FPS),
                                  "compress_level": 1}}
    del prompt["8"]
    result = loom.run(prompt)
    with Image.open(saved(loom, result, node_id)) as image:
        assert image.n_frames == FRAMES and image.size == (WIDTH, HEIGHT)
        assert json.loads(image.info["prompt"]) == prompt
