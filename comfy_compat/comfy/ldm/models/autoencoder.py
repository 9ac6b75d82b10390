"""ComfyUI's `comfy.ldm.models.autoencoder`: AutoencoderKL is Loom's engine.models.vae.AutoencoderKL."""

from engine.models.vae import AutoencoderKL

__all__ = ["AutoencoderKL"]
