"""unCLIP nodes: load an SD2.1 unCLIP checkpoint with its image embedder, and attach CLIP image embeddings
to a conditioning (strength, noise augmentation); engine/models/unclip.py turns them into the UNet's label
vector when sampling."""

from typing import Annotated

from pydantic import Field

from engine.graph.native import Node, Out, Socket, Widget, node
from engine.models.detect import UNCLIP_VISION_PREFIX, UnsupportedCheckpoint
from nodes.clip_vision_nodes import clip_vision_model
from nodes.loaders import load_checkpoint
from nodes.model_files import file_version, folders_of, model_files, model_manager


@node(category="loaders", display_name="unCLIPCheckpointLoader",
      outputs=[Out("MODEL"), Out("CLIP"), Out("VAE"), Out("CLIP_VISION")])
class unCLIPCheckpointLoader(Node):
    """Load an SD2.1 unCLIP checkpoint (unclip-l / unclip-h): the models plus the CLIP image encoder whose
    embeddings unCLIPConditioning feeds to the UNet."""

    ckpt_name: Annotated[str, model_files("checkpoints", "A file in models/checkpoints.")]

    def run(self, ctx):
        model, clip, vae = load_checkpoint(ctx, "unCLIPCheckpointLoader", self.ckpt_name)
        if model.config.family != "sd2_unclip":
            raise UnsupportedCheckpoint(
                f"unCLIPCheckpointLoader: ckpt_name {self.ckpt_name!r} is a {model.config.family} checkpoint "
                f"without an unCLIP image embedder ({UNCLIP_VISION_PREFIX}*): load it with CheckpointLoaderSimple")
        path = folders_of(ctx).find("checkpoints", self.ckpt_name)
        return (model, clip, vae, clip_vision_model(model_manager(ctx), path, UNCLIP_VISION_PREFIX))

    @classmethod
    def is_changed(cls, ckpt_name: str) -> str:
        return file_version("checkpoints", ckpt_name)


@node(category="conditioning", display_name="unCLIPConditioning", outputs=[Out("CONDITIONING")])
class unCLIPConditioning(Node):
    """Add an image's CLIP embedding to the conditioning (several stack); noise_augmentation blurs how
    closely the result follows the image."""

    conditioning: Annotated[object, Socket("CONDITIONING")]
    clip_vision_output: Annotated[object, Socket("CLIP_VISION_OUTPUT")]
    strength: Annotated[float, Widget(step=0.01)] = Field(1.0, ge=-10.0, le=10.0)
    noise_augmentation: Annotated[float, Widget(step=0.01)] = Field(0.0, ge=0.0, le=1.0)

    def run(self, ctx):
        if self.strength == 0:
            return (self.conditioning,)
        item = {"clip_vision_output": self.clip_vision_output, "strength": self.strength,
                "noise_augmentation": self.noise_augmentation}
        return ([[embedding, {**options, "unclip_conditioning": [*options.get("unclip_conditioning", []), item]}]
                 for embedding, options in self.conditioning],)
