"""ComfyUI's `comfy_api.latest._input`: the value types a V3 node receives (IMAGE and MASK tensors, AUDIO and
LATENT dicts, VIDEO objects). VIDEO is Loom's own video value; torch and PyAV load on first use."""

from __future__ import annotations

from typing import Any, TypedDict


class AudioInput(TypedDict):
    """AUDIO: a waveform tensor [B, C, T] and its sample rate."""

    waveform: Any
    sample_rate: int


class LatentInput(TypedDict, total=False):
    """LATENT: samples [B, C, H, W], maybe a noise mask and batch indices."""

    samples: Any
    noise_mask: Any
    batch_index: list[int]


def __getattr__(name: str) -> Any:
    if name in ("ImageInput", "MaskInput"):  # IMAGE [B, H, W, C] and MASK [B, H, W] tensors
        import torch

        return torch.Tensor
    if name == "VideoInput":
        from nodes.video_values import Video

        return Video
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AudioInput", "ImageInput", "LatentInput", "MaskInput", "VideoInput"]  # noqa: F822 - lazy names
