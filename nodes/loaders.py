"""Loader nodes: a model file name in, light MODEL / CLIP / VAE handles out (weights load when used)."""

from typing import Annotated

import torch

from engine.graph.native import Combo, Node, Out, node
from engine.models.detect import UnsupportedCheckpoint
from engine.models.pixel_space import PixelSpace
from engine.models.vae import VAEConfig
from engine.values.model import (
    VAEModel,
    detect_checkpoint_file,
    load_vae_file,
    text_encoder_model,
    unet_handle,
    vae_model,
)
from engine.values.model_patcher import ModelPatcher
from nodes.model_files import file_version, folders_of, model_files, model_manager

PIXEL_SPACE = "pixel_space"


def load_checkpoint(ctx, node_name: str, ckpt_name: str) -> tuple:
    """(MODEL, CLIP, VAE) of a single-file SD1.x / SD2.x / SDXL checkpoint in models/checkpoints."""
    folders, manager = folders_of(ctx), model_manager(ctx)
    path = folders.find("checkpoints", ckpt_name)
    config = detect_checkpoint_file(path)
    if config.family == "svd":
        raise UnsupportedCheckpoint(f"{node_name}: {ckpt_name} is a Stable Video Diffusion checkpoint: load it "
                                    "with ImageOnlyCheckpointLoader (MODEL, CLIP_VISION, VAE)")
    model = ModelPatcher(unet_handle(manager, path, config), config)
    clip = text_encoder_model(manager, path, config, folders.folders_for("embeddings"))
    vae = vae_model(manager, path, config.vae_prefix, config.vae) if config.vae is not None else None
    return (model, clip, vae)


@node(category="loaders", display_name="Load Checkpoint", aliases=["LoadCheckpoint"],
      outputs=[Out("MODEL", tooltip="The denoising UNet."), Out("CLIP", tooltip="The text encoder(s)."),
               Out("VAE", tooltip="The autoencoder between pixels and latents.")])
class CheckpointLoaderSimple(Node):
    """Load a single-file checkpoint (SD1.x, SD2.x, SDXL); its family is detected from the weights."""

    ckpt_name: Annotated[str, model_files("checkpoints", "A file in models/checkpoints.")]

    def run(self, ctx):
        return load_checkpoint(ctx, "CheckpointLoaderSimple", self.ckpt_name)

    @classmethod
    def is_changed(cls, ckpt_name: str) -> str:
        return file_version("checkpoints", ckpt_name)


@node(category="loaders", display_name="Load VAE", outputs=[Out("VAE")])
class VAELoader(Node):
    """Load a standalone VAE file (e.g. vae-ft-mse-840000-ema-pruned.safetensors), or `pixel_space`: the
    identity "VAE" of models that denoise pixels."""

    vae_name: Annotated[str, Combo(lambda folders: [*(folders.list("vae") if folders else []), PIXEL_SPACE],
                                   tooltip="A file in models/vae, or pixel_space.", model_folder="vae")]

    def run(self, ctx):
        manager = model_manager(ctx)
        if self.vae_name == PIXEL_SPACE:
            handle = manager.handle(PIXEL_SPACE, name=PIXEL_SPACE, kind="vae", build=PixelSpace,
                                    state_dict=lambda: {"scale": torch.ones(())})
            return (VAEModel(handle, VAEConfig(ch_mult=(1,), z_channels=3, embed_dim=3)),)
        return (load_vae_file(manager, folders_of(ctx).find("vae", self.vae_name)),)

    @classmethod
    def is_changed(cls, vae_name: str) -> str:
        return "" if vae_name == PIXEL_SPACE else file_version("vae", vae_name)
