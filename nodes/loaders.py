"""Loader nodes: a model file name in, light MODEL / CLIP / VAE handles out (weights load when used)."""

from typing import Annotated

from engine.graph.context import current
from engine.graph.native import Combo, Node, Out, node
from engine.memory import ModelManager, file_key
from engine.paths import ModelNotFound
from nodes.model_values import (
    DiffusionModel,
    detect_checkpoint_file,
    load_vae_file,
    text_encoder_model,
    unet_handle,
    vae_model,
)


def model_manager(ctx) -> ModelManager:
    """The host's model manager (Services.models); a clear error when the host did not provide one."""
    manager = ctx.services.models
    if manager is None:
        raise RuntimeError("no model manager: the host must pass Services(models=engine.memory.ModelManager(...))")
    return manager


def _folders(ctx):
    folders = ctx.services.folders
    if folders is None:
        raise RuntimeError("no model folders: the host must pass Services(folders=engine.paths.Folders(...))")
    return folders


def model_files(kind: str, tooltip: str) -> Combo:
    """A combo of the model files of `kind`, listed live; validation names the folders searched."""
    return Combo(lambda folders: folders.list(kind) if folders is not None else [], tooltip=tooltip,
                 model_folder=kind)


def file_version(kind: str, name: str) -> str:
    """Which version of a model file a name resolves to now (path and mtime): a replaced file re-runs the
    loader even when the graph cache has its output; '' when it cannot be resolved (the run reports why)."""
    ctx = current()
    folders = ctx.services.folders if ctx is not None else None
    if folders is None:
        return ""
    try:
        return file_key(folders.find(kind, name), kind)
    except ModelNotFound:
        return ""


@node(category="loaders", display_name="Load Checkpoint", aliases=["CheckpointLoader"],
      outputs=[Out("MODEL", tooltip="The denoising UNet."), Out("CLIP", tooltip="The text encoder(s)."),
               Out("VAE", tooltip="The autoencoder between pixels and latents.")])
class CheckpointLoaderSimple(Node):
    """Load a single-file checkpoint (SD1.x, SD2.x, SDXL); its family is detected from the weights."""

    ckpt_name: Annotated[str, model_files("checkpoints", "A file in models/checkpoints.")]

    def run(self, ctx):
        folders, manager = _folders(ctx), model_manager(ctx)
        path = folders.find("checkpoints", self.ckpt_name)
        config = detect_checkpoint_file(path)
        model = DiffusionModel(unet_handle(manager, path, config), config)
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
        return (load_vae_file(model_manager(ctx), _folders(ctx).find("vae", self.vae_name)),)

    @classmethod
    def is_changed(cls, vae_name: str) -> str:
        return file_version("vae", vae_name)
