"""Save an IMAGE batch as one animation: animated WebP, animated PNG, or an H.264 MP4 (PyAV, no system
ffmpeg). Each file carries the prompt and workflow the way ComfyUI writes them (WebP EXIF, PNG text
chunks, MP4 container metadata), so a saved video reloads as its workflow.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal

import av
import numpy as np
import torch
from pydantic import Field

from engine.graph.native import Node, NodeOutput, Socket, Widget, node
from engine.graph.workflow_io import exif_metadata, png_info
from engine.paths import UnsafePath
from nodes.image_io import next_counter, split_prefix
from nodes.image_tensors import tensor_to_pil
from nodes.model_files import folders_of
from nodes.save_names import expand_prefix
from nodes.video_values import frames_to_uint8

WEBP_METHODS = {"default": 4, "fastest": 0, "slowest": 6}


def output_file(ctx, prefix: str, extension: str, width: int = 0, height: int = 0) -> tuple[Path, dict]:
    """The next free `<prefix>_NNNNN_.<extension>` in the output folder (prefix variables expanded) and its
    ui entry."""
    subfolder, name = split_prefix(expand_prefix(prefix, width, height, ctx.prompt))
    folders = folders_of(ctx)
    try:
        folder = folders.safe_join("output", subfolder, name).parent
    except UnsafePath as exc:
        raise UnsafePath(f"filename_prefix {prefix!r} would write outside the output folder: {exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    filename = f"{name}_{next_counter(folder, name):05}_.{extension}"
    return folder / filename, {"filename": filename, "subfolder": subfolder, "type": "output"}


def _with_metadata(ctx) -> bool:
    return not (ctx.services.settings or {}).get("disable_metadata")


def _frames(images: torch.Tensor) -> list:
    return [tensor_to_pil(image) for image in images]


def _duration_ms(fps: float) -> int:
    """Frame duration as ComfyUI writes it (whole milliseconds, truncated)."""
    return int(1000.0 / fps)


@node(category="image/animation", display_name="Save Animated WEBP", outputs=[], output_node=True)
class SaveAnimatedWEBP(Node):
    """Save the frames as one animated WebP (workflow in its EXIF)."""

    images: Annotated[object, Socket("IMAGE")]
    filename_prefix: str = "ComfyUI"
    fps: Annotated[float, Widget(step=0.01)] = Field(6.0, ge=0.01, le=1000.0)
    lossless: bool = True
    quality: int = Field(80, ge=0, le=100)
    method: Literal["default", "fastest", "slowest"]

    def run(self, ctx):
        path, entry = output_file(ctx, self.filename_prefix, "webp", self.images.shape[2], self.images.shape[1])
        frames = _frames(self.images)
        exif = exif_metadata(ctx.prompt, ctx.extra_pnginfo) if _with_metadata(ctx) else None
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=_duration_ms(self.fps), loop=0,
                       lossless=self.lossless, quality=self.quality, method=WEBP_METHODS[self.method],
                       **({"exif": exif} if exif is not None else {}))
        return NodeOutput(result=(), ui={"images": [entry], "animated": [True]})


@node(category="image/animation", display_name="Save Animated PNG", outputs=[], output_node=True)
class SaveAnimatedPNG(Node):
    """Save the frames as one animated PNG (workflow in its text chunks)."""

    images: Annotated[object, Socket("IMAGE")]
    filename_prefix: str = "ComfyUI"
    fps: Annotated[float, Widget(step=0.01)] = Field(6.0, ge=0.01, le=1000.0)
    compress_level: int = Field(4, ge=0, le=9)

    def run(self, ctx):
        path, entry = output_file(ctx, self.filename_prefix, "png", self.images.shape[2], self.images.shape[1])
        frames = _frames(self.images)
        info = png_info(ctx.prompt, ctx.extra_pnginfo) if _with_metadata(ctx) else None
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=_duration_ms(self.fps), loop=0,
                       pnginfo=info, compress_level=self.compress_level)
        return NodeOutput(result=(), ui={"images": [entry], "animated": [True]})


def write_mp4(path: Path, images: torch.Tensor, fps: float, crf: int, metadata: dict[str, str]) -> None:
    """Encode IMAGE [N,H,W,3] as H.264 (yuv420p; odd sizes lose their last row/column) with `metadata`
    as container tags."""
    pixels = frames_to_uint8(images)
    height, width = pixels.shape[1] // 2 * 2, pixels.shape[2] // 2 * 2
    if height == 0 or width == 0:
        raise ValueError(f"SaveVideoMP4: images of {pixels.shape[2]}x{pixels.shape[1]} are too small for H.264")
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata.update(metadata)
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf)}
        for frame in pixels:
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:height, :width]), format="rgb24")
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))


def video_metadata(prompt: dict | None, extra_pnginfo: dict | None) -> dict[str, str]:
    """Container tags: `comment` = JSON {"prompt", "workflow", ...}, and each of those as its own tag."""
    values = {"prompt": prompt, **(extra_pnginfo or {})}
    values = {k: v for k, v in values.items() if v is not None}
    if not values:
        return {}
    return {"comment": json.dumps(values), **{k: json.dumps(v) for k, v in values.items()}}


@node(category="image/video", display_name="Save Video (MP4)", outputs=[], output_node=True)
class SaveVideoMP4(Node):
    """Save the frames as an H.264 MP4 (workflow in the container's comment tag)."""

    images: Annotated[object, Socket("IMAGE")]
    filename_prefix: str = "video/Loom"
    fps: Annotated[float, Widget(step=0.01)] = Field(6.0, ge=0.01, le=1000.0)
    crf: Annotated[int, Widget(tooltip="Quality: lower is better and larger (0 = lossless).")] = Field(19, ge=0,
                                                                                                       le=51)

    def run(self, ctx):
        path, entry = output_file(ctx, self.filename_prefix, "mp4")
        metadata = video_metadata(ctx.prompt, ctx.extra_pnginfo) if _with_metadata(ctx) else {}
        write_mp4(path, self.images, self.fps, self.crf, metadata)
        return NodeOutput(result=(), ui={"images": [entry], "animated": [True]})
