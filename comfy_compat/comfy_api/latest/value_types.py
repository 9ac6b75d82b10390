"""The `Input`, `InputImpl` and `Types` namespaces of `comfy_api.latest` (they import torch and PyAV, so
comfy_api.latest loads this module only when a pack asks for one of them)."""

from __future__ import annotations

from comfy_compat.comfy_api.latest import _input, _input_impl, _util


class Input:
    """Value types of V3 inputs."""

    Image = _input.ImageInput
    Audio = _input.AudioInput
    Mask = _input.MaskInput
    Latent = _input.LatentInput
    Video = _input.VideoInput


class InputImpl:
    """Concrete VIDEO values."""

    VideoFromFile = _input_impl.VideoFromFile
    VideoFromComponents = _input_impl.VideoFromComponents


class Types:
    """Video containers, codecs and components."""

    VideoCodec = _util.VideoCodec
    VideoContainer = _util.VideoContainer
    VideoComponents = _util.VideoComponents
