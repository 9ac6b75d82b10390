"""Latents on disk: SaveLatent writes `.latent` files (safetensors with `latent_tensor`, a format-version
marker and the prompt/workflow as metadata) to the output folder; LoadLatent reads them from the input
folder. Same format as ComfyUI's, so latents move between the two."""

import json
from typing import Annotated

import torch
from safetensors.torch import load_file, save_file

from engine.downloads import file_sha256
from engine.graph.context import current
from engine.graph.native import Combo, Node, NodeOutput, Out, Socket, node
from engine.paths import Folders
from nodes.image_io import annotated_file
from nodes.model_files import folders_of
from nodes.video_save import output_file

OLD_FORMAT_SCALE = 1.0 / 0.18215  # files without the version marker hold SD1 latents pre-scaled by 0.18215


def input_latents(folders: Folders) -> list[str]:
    """`.latent` files in the input folder, for LoadLatent's combo."""
    return sorted(name for name in folders.list_input_files() if name.endswith(".latent"))


def _metadata(ctx) -> dict[str, str] | None:
    if (ctx.services.settings or {}).get("disable_metadata"):
        return None
    metadata = {"prompt": json.dumps(ctx.prompt) if ctx.prompt is not None else ""}
    return metadata | {k: json.dumps(v) for k, v in (ctx.extra_pnginfo or {}).items()}


@node(category="_for_testing", display_name="SaveLatent", outputs=[], output_node=True)
class SaveLatent(Node):
    """Save the latent as a `.latent` file in the output folder."""

    samples: Annotated[object, Socket("LATENT")]
    filename_prefix: str = "latents/ComfyUI"

    def run(self, ctx):
        path, entry = output_file(ctx, self.filename_prefix, "latent")
        tensors = {"latent_tensor": self.samples["samples"].contiguous(), "latent_format_version_0": torch.tensor([])}
        save_file(tensors, str(path), metadata=_metadata(ctx))
        return NodeOutput(result=(), ui={"latents": [entry]})


@node(category="_for_testing", display_name="LoadLatent", outputs=[Out("LATENT")])
class LoadLatent(Node):
    """Load a `.latent` file from the input folder."""

    latent: Annotated[str, Combo(input_latents)]

    def run(self, ctx):
        tensors = load_file(str(annotated_file(folders_of(ctx), self.latent, "input")), device="cpu")
        scale = 1.0 if "latent_format_version_0" in tensors else OLD_FORMAT_SCALE
        return ({"samples": tensors["latent_tensor"].float() * scale},)

    @classmethod
    def is_changed(cls, latent: str) -> str:
        """The file's SHA-256: replacing the file re-runs the node even under the same name."""
        return file_sha256(annotated_file(folders_of(current()), latent, "input"))
