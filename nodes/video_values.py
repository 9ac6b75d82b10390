"""The VIDEO value: frames + optional audio + frame rate, either held in memory (made by CreateVideo) or read
lazily from a file (LoadVideo). Same methods as ComfyUI's VideoInput (get_components, get_dimensions,
save_to), so nodes written for ComfyUI can take Loom's videos. Encoding uses PyAV (no system ffmpeg)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch


@dataclass
class VideoComponents:
    """IMAGE frames [N,H,W,3], frames per second, AUDIO ({"waveform": [B,C,S], "sample_rate": int}) or None,
    container metadata. Field order and defaults are ComfyUI's: packs build it positionally."""

    images: torch.Tensor
    frame_rate: Fraction
    audio: dict | None = None
    metadata: dict | None = None


def frames_to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N,H,W,C] floats -> uint8 RGB the way ComfyUI encodes video frames (x 255, clamp, truncate)."""
    return (images[..., :3] * 255).clamp(0, 255).byte().cpu().numpy()


def _mux_audio(container, audio: dict, frame_rate: Fraction, frame_count: int) -> None:
    rate = int(audio["sample_rate"])
    stream = container.add_stream("aac", rate=rate)
    waveform = audio["waveform"][:, :, :math.ceil((rate / frame_rate) * frame_count)]
    layout = "mono" if waveform.shape[1] == 1 else "stereo"
    frame = av.AudioFrame.from_ndarray(waveform.movedim(2, 1).reshape(1, -1).float().numpy(), format="flt",
                                       layout=layout)
    frame.sample_rate, frame.pts = rate, 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_h264(path: Path | str, parts: VideoComponents, metadata: dict | None) -> None:
    """An MP4 with an H.264 (yuv420p) stream, AAC audio when there is some, and each metadata entry as a
    JSON container tag (how ComfyUI stores prompt and workflow in videos)."""
    with av.open(str(path), mode="w", options={"movflags": "use_metadata_tags"}) as container:
        for key, value in (metadata or {}).items():
            container.metadata[key] = json.dumps(value)
        rate = Fraction(round(parts.frame_rate * 1000), 1000)
        stream = container.add_stream("h264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = parts.images.shape[2], parts.images.shape[1], "yuv420p"
        for pixels in frames_to_uint8(parts.images):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
        if parts.audio:
            _mux_audio(container, parts.audio, rate, parts.images.shape[0])


def check_format(format: str, codec: str) -> None:
    """Refuse containers and codecs other than MP4 / H.264 (the ones ComfyUI's SaveVideo offers)."""
    if format not in ("auto", "mp4"):
        raise ValueError(f"video format {format!r} is not supported: use auto or mp4")
    if codec not in ("auto", "h264"):
        raise ValueError(f"video codec {codec!r} is not supported: use auto or h264")


class Video:
    """Base of VIDEO values."""

    def get_components(self) -> VideoComponents:
        raise NotImplementedError

    def get_dimensions(self) -> tuple[int, int]:
        """(width, height)."""
        images = self.get_components().images
        return images.shape[2], images.shape[1]

    def get_duration(self) -> float:
        """Length in seconds: frame count over frame rate."""
        parts = self.get_components()
        return float(parts.images.shape[0] / parts.frame_rate)

    def save_to(self, path: str | Path, format: str = "auto", codec: str = "auto",
                metadata: dict[str, Any] | None = None) -> None:
        check_format(str(format), str(codec))
        write_h264(path, self.get_components(), metadata)


class VideoFromComponents(Video):
    """A video held as tensors."""

    def __init__(self, components: VideoComponents):
        self.components = components

    def get_components(self) -> VideoComponents:
        return self.components


class VideoFromFile(Video):
    """A video file, decoded when its frames are asked for."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def get_dimensions(self) -> tuple[int, int]:
        with av.open(str(self.path)) as container:
            for stream in container.streams.video:
                return stream.width, stream.height
        raise ValueError(f"no video stream in {self.path}")

    def get_duration(self) -> float:
        """Length in seconds from the container's header, or from the decoded frames when it has none."""
        with av.open(str(self.path)) as container:
            if container.duration is not None:
                return float(container.duration / av.time_base)
        return super().get_duration()

    def get_components(self) -> VideoComponents:
        with av.open(str(self.path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
            if not frames:
                raise ValueError(f"no video frames in {self.path}")
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate) if stream.average_rate else Fraction(1)
            metadata = dict(container.metadata)
        images = torch.from_numpy(np.stack(frames)).float() / 255.0
        return VideoComponents(images=images, audio=self._audio(), frame_rate=rate, metadata=metadata)

    def _audio(self) -> dict | None:
        with av.open(str(self.path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
            if not chunks:
                return None
            waveform = torch.from_numpy(np.concatenate(chunks, axis=1)).float()
            return {"waveform": waveform.unsqueeze(0), "sample_rate": int(stream.sample_rate or 1)}
