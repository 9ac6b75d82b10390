"""ComfyUI's `comfy_api.util.video_types`: VideoContainer, VideoCodec and VideoComponents."""

from comfy_compat.comfy_api.latest._util import VideoCodec, VideoContainer, __getattr__  # noqa: F401 - lazy name

__all__ = ["VideoCodec", "VideoComponents", "VideoContainer"]  # noqa: F822 - lazy name
