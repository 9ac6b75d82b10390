"""Image nodes that touch files: LoadImage (input folder), SaveImage (output), PreviewImage (temp).

Saved PNGs embed the API prompt and the canvas workflow, so a picture reloads as its workflow.
"""

from __future__ import annotations

import secrets
import string
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from PIL import Image, ImageOps, ImageSequence

from engine.downloads import file_sha256
from engine.graph.context import current
from engine.graph.native import Combo, Node, NodeOutput, Out, Socket, Widget, node
from engine.graph.workflow_io import png_info
from engine.paths import Folders, UnsafePath
from nodes.image_tensors import tensor_to_pil, to_uint8
from nodes.model_files import folders_of
from nodes.save_names import expand_prefix, next_counter, split_prefix

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def input_images(folders: Folders) -> list[str]:
    """Image files in the input folder, for LoadImage's combo."""
    return [name for name in folders.list_input_files() if name.lower().endswith(IMAGE_EXTENSIONS)]


def output_images(folders: Folders) -> list[str]:
    """Image files in the output folder, for LoadImageOutput's combo."""
    root = folders.root("output")
    names = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()) if root.is_dir() else ()
    return sorted(name for name in names if name.lower().endswith(IMAGE_EXTENSIONS))


def annotated_file(folders: Folders, name: str, default_root: str) -> Path:
    """A combo value as the canvas sends it: `sub/name.png`, optionally tagged ` [output]`, ` [input]` or
    ` [temp]` to say which folder it is in."""
    root = default_root
    for kind in ("input", "output", "temp"):
        if name.endswith(f" [{kind}]"):
            name, root = name[:-len(kind) - 3], kind
    subfolder, _, filename = name.replace("\\", "/").rpartition("/")
    return folders.safe_join(root, subfolder, filename)


def _rgb_array(frame: Image.Image) -> np.ndarray:
    """float32 [H,W,3] in 0..1; 16/32-bit grayscale keeps its full range instead of clipping at 255."""
    if frame.mode.startswith("I"):
        gray = np.asarray(frame).astype(np.float32)
        scale = 65535.0 if frame.mode.startswith("I;16") or gray.max(initial=0) > 255 else 255.0
        return np.repeat((gray / scale).clip(0, 1)[..., None], 3, axis=-1)
    return np.asarray(frame.convert("RGB"), dtype=np.float32) / 255.0


def load_image_file(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """IMAGE [N,H,W,3] and MASK [N,H,W] from a file; every frame of the first frame's size is kept.

    The mask is 1 where the image is transparent (1 - alpha); a frame without alpha gets ComfyUI's empty
    64 x 64 mask. (Unlike ComfyUI, 16/32-bit grey keeps its range instead of saturating to white.)
    """
    images, masks = [], []
    with Image.open(path) as opened:
        for frame in ImageSequence.Iterator(opened):
            frame = ImageOps.exif_transpose(frame)
            if images and frame.size != (images[0].shape[1], images[0].shape[0]):
                continue
            has_alpha = "A" in frame.getbands() or (frame.mode == "P" and "transparency" in frame.info)
            rgba = frame.convert("RGBA") if has_alpha else None
            rgb = _rgb_array(frame)
            images.append(torch.from_numpy(rgb))
            if rgba is not None:
                alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
                masks.append(1.0 - torch.from_numpy(alpha.copy()))
            else:
                masks.append(torch.zeros((64, 64), dtype=torch.float32))
            if opened.format == "MPO":
                break
    return torch.stack(images), torch.stack(masks)


@node(category="image", display_name="Load Image", outputs=[Out("IMAGE"), Out("MASK")])
class LoadImage(Node):
    """Load an image from the input folder; MASK is 1 where the image is transparent."""

    image: Annotated[str, Combo(input_images, image_upload=True)]

    def run(self, ctx):
        return load_image_file(annotated_file(folders_of(ctx), self.image, "input"))

    @classmethod
    def is_changed(cls, image: str) -> str:
        """The file's SHA-256: replacing the file re-runs the node even under the same name."""
        ctx = current()
        if ctx is None:
            raise RuntimeError("LoadImage.is_changed needs the execution context for the input folder")
        return file_sha256(annotated_file(folders_of(ctx), image, "input"))


@node(category="mask", display_name="Load Image (as Mask)", outputs=[Out("MASK")])
class LoadImageMask(Node):
    """Load one channel of an input image as a mask; for alpha, transparent areas are 1."""

    image: Annotated[str, Combo(input_images, image_upload=True)]
    channel: Literal["alpha", "red", "green", "blue"]

    def run(self, ctx):
        path = annotated_file(folders_of(ctx), self.image, "input")
        band = {"alpha": "A", "red": "R", "green": "G", "blue": "B"}[self.channel]
        with Image.open(path) as opened:
            frame = ImageOps.exif_transpose(opened)
            if frame.mode.startswith("I"):  # deep grey: its full range, as LoadImage reads it
                frame = Image.fromarray(to_uint8(torch.from_numpy(_rgb_array(frame))))
            values = np.asarray(frame.convert("RGBA").getchannel(band), dtype=np.float32) / 255.0
        mask = torch.from_numpy(values.copy())[None]
        return (1.0 - mask if band == "A" else mask,)

    @classmethod
    def is_changed(cls, image: str) -> str:
        return LoadImage.is_changed(image)


def save_png_batch(images: torch.Tensor, folders: Folders, root_kind: str, prefix: str,
                   metadata=None, compress_level: int = 4, prompt: dict | None = None) -> list[dict]:
    """Write each image as `<prefix>_NNNNN_.png`; returns the canvas' [{filename, subfolder, type}]."""
    expanded = expand_prefix(prefix, images.shape[2], images.shape[1], prompt)
    subfolder, name = split_prefix(expanded)
    try:
        folder = folders.safe_join(root_kind, subfolder, name.replace("%batch_num%", "0")).parent
    except UnsafePath as exc:
        raise UnsafePath(f"filename_prefix {prefix!r} would write outside the {root_kind} folder: {exc}") from None
    folder.mkdir(parents=True, exist_ok=True)
    counter = next_counter(folder, name)
    results = []
    for batch_number, image in enumerate(images):
        filename = f"{name.replace('%batch_num%', str(batch_number))}_{counter:05}_.png"
        tensor_to_pil(image).save(folder / filename, pnginfo=metadata, compress_level=compress_level)
        results.append({"filename": filename, "subfolder": subfolder, "type": root_kind})
        counter += 1
    return results


def _metadata(ctx):
    if (ctx.services.settings or {}).get("disable_metadata"):
        return None
    return png_info(ctx.prompt, ctx.extra_pnginfo)


@node(category="image", display_name="Load Image (from Outputs)", outputs=[Out("IMAGE"), Out("MASK")],
      experimental=True)
class LoadImageOutput(Node):
    """Load an image from the output folder (to iterate on a result); like LoadImage otherwise."""

    image: Annotated[str, Combo(output_images, image_upload=True, image_folder="output",
                                remote={"route": "/internal/files/output", "refresh_button": True,
                                        "control_after_refresh": "first"})]

    def run(self, ctx):
        return load_image_file(annotated_file(folders_of(ctx), self.image, "output"))


def preview_images(ctx, images: torch.Tensor, compress_level: int = 1) -> list[dict]:
    """Write images to the temp folder under a random prefix; the canvas' ui entries."""
    suffix = "".join(secrets.choice(string.ascii_lowercase) for _ in range(5))
    return save_png_batch(images, folders_of(ctx), "temp", f"ComfyUI_temp_{suffix}", _metadata(ctx),
                          compress_level=compress_level)


@node(category="image", display_name="Save Image", outputs=[], output_node=True)
class SaveImage(Node):
    """Save PNGs in the output folder with the workflow embedded; the prefix may hold subfolders."""

    images: Annotated[object, Socket("IMAGE")]
    filename_prefix: Annotated[str, Widget(tooltip="File name prefix; may include subfolders.")] = "ComfyUI"

    def run(self, ctx):
        saved = save_png_batch(self.images, folders_of(ctx), "output", self.filename_prefix,
                               _metadata(ctx), prompt=ctx.prompt)
        return NodeOutput(result=(), ui={"images": saved})


@node(category="image", display_name="Preview Image", outputs=[], output_node=True)
class PreviewImage(Node):
    """Show images on the canvas; they go to the temp folder, not the outputs."""

    images: Annotated[object, Socket("IMAGE")]

    def run(self, ctx):
        return NodeOutput(result=(), ui={"images": preview_images(ctx, self.images)})
