"""ComfyUI's `comfy_api.input.basic_types`: IMAGE, MASK, AUDIO and LATENT value types."""

from comfy_compat.comfy_api.latest._input import AudioInput, LatentInput, __getattr__  # noqa: F401 - lazy names

__all__ = ["AudioInput", "ImageInput", "LatentInput", "MaskInput"]  # noqa: F822 - lazy names
