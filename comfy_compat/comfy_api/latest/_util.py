"""ComfyUI's `comfy_api.latest._util`: video container and codec choices and VideoComponents (Loom's)."""

from __future__ import annotations

from enum import Enum
from typing import Any


class VideoCodec(str, Enum):
    AUTO = "auto"
    H264 = "h264"

    @classmethod
    def as_input(cls) -> list[str]:
        """The codec names a combo input offers."""
        return [member.value for member in cls]


class VideoContainer(str, Enum):
    AUTO = "auto"
    MP4 = "mp4"

    @classmethod
    def as_input(cls) -> list[str]:
        """The container names a combo input offers."""
        return [member.value for member in cls]

    @classmethod
    def get_extension(cls, value: Any) -> str:
        """The file extension of a container ("" when it has none)."""
        return "mp4" if cls(value) in (cls.MP4, cls.AUTO) else ""


def __getattr__(name: str) -> Any:
    if name == "VideoComponents":
        from nodes.video_values import VideoComponents

        return VideoComponents
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["VideoCodec", "VideoComponents", "VideoContainer"]  # noqa: F822 - VideoComponents is lazy
