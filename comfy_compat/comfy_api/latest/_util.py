"""ComfyUI's `comfy_api.latest._util`: video container and codec choices and VideoComponents (Loom's)."""

from __future__ import annotations

from enum import Enum
from typing import Any


class _ComboChoices(str, Enum):
    """A string enum whose values a combo input offers (members are declared by the subclasses)."""

    @classmethod
    def as_input(cls) -> list[str]:
        """The names a combo input offers, in declaration order."""
        return [member.value for member in cls]


class VideoCodec(_ComboChoices):
    AUTO = "auto"
    H264 = "h264"


class VideoContainer(_ComboChoices):
    AUTO = "auto"
    MP4 = "mp4"

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
