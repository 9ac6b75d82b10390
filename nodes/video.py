"""Video nodes with ComfyUI's VIDEO type: make a video from frames (CreateVideo), take one apart
(GetVideoComponents), load one from the input folder (LoadVideo), save one as MP4 (SaveVideo) or frames as
WebM (SaveWEBM). Files carry the prompt and workflow as container tags, as ComfyUI writes them."""

import json
from fractions import Fraction
from pathlib import Path
from typing import Annotated

import av
import torch
from pydantic import Field

from engine.downloads import file_sha256
from engine.graph.context import current
from engine.graph.native import Combo, Node, NodeOutput, Out, Socket, Widget, node
from engine.paths import Folders
from nodes.image_io import annotated_file
from nodes.model_files import folders_of
from nodes.video_save import output_file
from nodes.video_values import Video, VideoComponents, VideoFromComponents, VideoFromFile, frames_to_uint8

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v", ".gif")
WEBM_CODECS = {"vp9": "libvpx-vp9", "av1": "libsvtav1"}


def input_videos(folders: Folders) -> list[str]:
    """Video files in the input folder, for LoadVideo's combo."""
    return [name for name in folders.list_input_files() if name.lower().endswith(VIDEO_EXTENSIONS)]


def _metadata(ctx) -> dict | None:
    """{"prompt": ..., "workflow": ...} for the file, or None when metadata is disabled or empty."""
    if (ctx.services.settings or {}).get("disable_metadata"):
        return None
    values = {**(ctx.extra_pnginfo or {}), **({"prompt": ctx.prompt} if ctx.prompt is not None else {})}
    return values or None


@node(category="image/video", display_name="Create Video", outputs=[Out("VIDEO")])
class CreateVideo(Node):
    """A VIDEO from frames at `fps` frames per second, with optional audio."""

    images: Annotated[object, Socket("IMAGE")]
    fps: Annotated[float, Widget(step=1.0)] = Field(30.0, ge=1.0, le=120.0)
    audio: Annotated[object, Socket("AUDIO")] = None

    def run(self, ctx):
        return (VideoFromComponents(VideoComponents(images=self.images, audio=self.audio,
                                                    frame_rate=Fraction(self.fps))),)


@node(category="image/video", display_name="Get Video Components",
      outputs=[Out("IMAGE", "images"), Out("AUDIO", "audio"), Out("FLOAT", "fps")])
class GetVideoComponents(Node):
    """The frames, audio and frame rate of a video."""

    video: Annotated[Video, Socket("VIDEO")]

    def run(self, ctx):
        parts = self.video.get_components()
        return (parts.images, parts.audio, float(parts.frame_rate))


@node(category="image/video", display_name="Load Video", outputs=[Out("VIDEO")])
class LoadVideo(Node):
    """A video file from the input folder (decoded when its frames are needed)."""

    file: Annotated[str, Combo(lambda folders: sorted(input_videos(folders)), video_upload=True)]

    def run(self, ctx):
        return (VideoFromFile(annotated_file(folders_of(ctx), self.file, "input")),)

    @classmethod
    def is_changed(cls, file: str) -> str:
        """The file's SHA-256: replacing the file re-runs the node even under the same name."""
        return file_sha256(annotated_file(folders_of(current()), file, "input"))


@node(category="image/video", display_name="Save Video", outputs=[], output_node=True)
class SaveVideo(Node):
    """Save a video as H.264 MP4 in the output folder."""

    video: Annotated[Video, Socket("VIDEO")]
    filename_prefix: str = "video/ComfyUI"
    format: Annotated[str, Combo(["auto", "mp4"])] = "auto"
    codec: Annotated[str, Combo(["auto", "h264"])] = "auto"

    def run(self, ctx):
        width, height = self.video.get_dimensions()
        path, entry = output_file(ctx, self.filename_prefix, "mp4", width, height)
        self.video.save_to(path, format=self.format, codec=self.codec, metadata=_metadata(ctx))
        return NodeOutput(result=(), ui={"images": [entry], "animated": (True,)})


def write_webm(path: Path, images: torch.Tensor, codec: str, fps: float, crf: float, metadata: dict | None) -> None:
    """VP9 (yuv420p) or AV1 (yuv420p10le) WebM at constant quality `crf`."""
    with av.open(str(path), mode="w") as container:
        for key, value in (metadata or {}).items():
            container.metadata[key] = json.dumps(value)
        stream = container.add_stream(WEBM_CODECS[codec], rate=Fraction(round(fps * 1000), 1000))
        stream.width, stream.height = images.shape[-2], images.shape[-3]
        stream.pix_fmt = "yuv420p10le" if codec == "av1" else "yuv420p"
        stream.bit_rate = 0
        stream.options = {"crf": str(crf), **({"preset": "6"} if codec == "av1" else {})}
        for pixels in frames_to_uint8(images):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
        container.mux(stream.encode())


@node(category="image/video", display_name="SaveWEBM", outputs=[], output_node=True, experimental=True)
class SaveWEBM(Node):
    """Save frames as a WebM video (VP9 or AV1)."""

    images: Annotated[object, Socket("IMAGE")]
    filename_prefix: str = "ComfyUI"
    codec: Annotated[str, Combo(list(WEBM_CODECS))]
    fps: Annotated[float, Widget(step=0.01)] = Field(24.0, ge=0.01, le=1000.0)
    crf: Annotated[float, Widget(step=1)] = Field(32.0, ge=0, le=63.0)

    def run(self, ctx):
        path, entry = output_file(ctx, self.filename_prefix, "webm", self.images.shape[2], self.images.shape[1])
        write_webm(path, self.images, self.codec, self.fps, self.crf, _metadata(ctx))
        return NodeOutput(result=(), ui={"images": [entry], "animated": (True,)})
