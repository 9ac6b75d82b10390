"""Loader nodes: a model file name in, light MODEL / CLIP / VAE handles out (weights load when used)."""

from typing import Annotated

from engine.graph.native import Node, Out, node
from engine.models.detect import UnsupportedCheckpoint
from engine.values.model import (
    detect_checkpoint_file,
    load_vae_file,
    text_encoder_model,
    unet_handle,
    vae_model,
)
from engine.values.model_patcher import ModelPatcher
from nodes.model_files import file_version, folders_of, model_files, model_manager


@node(category="loaders", display_name="Load Checkpoint", aliases=["LoadCheckpoint"],
      outputs=[Out("MODEL", tooltip="The denoising UNet."), Out("CLIP", tooltip="The text encoder(s)."),
               Out("VAE", tooltip="The autoencoder between pixels and latents.")])
class CheckpointLoaderSimple(Node):
    """Load a single-file checkpoint (SD1.x, SD2.x, SDXL); its family is detected from the weights."""

    ckpt_name: Annotated[str, model_files("checkpoints", "A file in models/checkpoints.")]

    def run(self, ctx):
        folders, manager = folders_of(ctx), model_manager(ctx)
        path = folders.find("checkpoints", self.ckpt_name)
        config = detect_checkpoint_file(path)
        if config.family == "svd":
            raise UnsupportedCheckpoint(f"{self.ckpt_name} is a Stable Video Diffusion checkpoint: load it with "
                                        "ImageOnlyCheckpointLoader (MODEL, CLIP_VISION, VAE)")
        model = ModelPatcher(unet_handle(manager, path, config), config)
        clip = text_encoder_model(manager, path, config, folders.folders_for("embeddings"))
        vae = vae_model(manager, path, config.vae_prefix, config.vae) if config.vae is not None else None
        return (model, clip, vae)

    @classmethod
    def is_changed(cls, ckpt_name: str) -> str:
        return file_version("checkpoints", ckpt_name)


@node(category="loaders", display_name="Load VAE", outputs=[Out("VAE")])
class VAELoader(Node):
    """Load a standalone VAE file (e.g. vae-ft-mse-840000-ema-pruned.safetensors)."""

    vae_name: Annotated[str, model_files("vae", "A file in models/vae.")]

    def run(self, ctx):
        return (load_vae_file(model_manager(ctx), folders_of(ctx).find("vae", self.vae_name)),)

    @classmethod
    def is_changed(cls, vae_name: str) -> str:
        return file_version("vae", vae_name)
