"""Image-set loaders (ComfyUI's training data nodes): every image of an input subfolder as one batch, sized
to the first image (or width x height) by stretching, cropping or padding; the captioned variant also
encodes each image's .txt caption (kohya-style `N_name` subfolders repeat their images N times)."""

from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from PIL import Image
from pydantic import Field

from engine.graph.native import Combo, Node, Out, Socket, Widget, node
from engine.paths import Folders
from nodes.model_files import folders_of
from nodes.text_encode import encode

IMAGE_SET_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
ResizeMethod = Literal["None", "Stretch", "Crop", "Pad"]


def input_subfolders(folders: Folders | None) -> list[str]:
    """Subfolders of the input folder (relative, any depth), for the folder combo."""
    if folders is None or not folders.input_dir.is_dir():
        return []
    return sorted(p.relative_to(folders.input_dir).as_posix() for p in folders.input_dir.rglob("*") if p.is_dir())


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SET_EXTENSIONS


def load_image_set(paths: list[Path], resize_method: str, width: int | None = None,
                   height: int | None = None) -> torch.Tensor:
    """IMAGE [N,H,W,3] of the files, each fitted to width x height (default: the first image's size)."""
    if not paths:
        raise ValueError("no .png/.jpg/.jpeg/.webp images found in the folder")
    images = []
    for path in paths:
        with Image.open(path) as opened:
            picture = opened.point(lambda v: v * (1 / 255)) if opened.mode == "I" else opened
            picture = picture.convert("RGB")
        if width is None and height is None:
            width, height = picture.size
        if picture.size != (width, height):
            if resize_method == "None":
                raise ValueError(f"{path.name} is {picture.size[0]}x{picture.size[1]}, not {width}x{height} like "
                                 "the first image: choose a resize_method (Stretch, Crop or Pad)")
            if resize_method == "Crop":
                picture = picture.crop((0, 0, width, height))
            else:  # Stretch; ComfyUI's Pad stretches too
                picture = picture.resize((width, height), Image.Resampling.LANCZOS)
        images.append(torch.from_numpy(np.array(picture).astype(np.float32) / 255.0)[None])
    return torch.cat(images, dim=0)


def _subfolder(ctx, folder: str) -> Path:
    return folders_of(ctx).safe_join("input", folder, "")


@node(category="loaders", display_name="Load Image Dataset from Folder", outputs=[Out("IMAGE")], experimental=True)
class LoadImageSetFromFolderNode(Node):
    """Every image of an input subfolder as one batch."""

    folder: Annotated[str, Combo(input_subfolders)]
    resize_method: Annotated[ResizeMethod, Widget(optional=True)] = "None"

    def run(self, ctx):
        directory = _subfolder(ctx, self.folder)
        paths = [directory / name for name in sorted(p.name for p in directory.iterdir() if _is_image(p))]
        return (load_image_set(paths, self.resize_method),)


def _captioned_images(directory: Path) -> list[Path]:
    """Images of the folder, then of its subfolders (a `N_name` subfolder counts N times)."""
    found = []
    for entry in sorted(directory.iterdir()):
        if _is_image(entry):
            found.append(entry)
        elif entry.is_dir():
            repeat = int(entry.name.split("_")[0]) if entry.name.split("_")[0].isdigit() else 1
            found += sorted(p for p in entry.iterdir() if _is_image(p)) * repeat
    return found


@node(category="loaders", display_name="Load Image and Text Dataset from Folder",
      outputs=[Out("IMAGE"), Out("CONDITIONING")], experimental=True)
class LoadImageTextSetFromFolderNode(Node):
    """Images of an input subfolder and their captions (same name, .txt; missing means ""), encoded."""

    folder: Annotated[str, Combo(input_subfolders)]
    clip: Annotated[object, Socket("CLIP")]
    resize_method: Annotated[ResizeMethod, Widget(optional=True)] = "None"
    width: Annotated[int, Widget(step=1, optional=True), Field(ge=-1, le=10000)] = -1
    height: Annotated[int, Widget(step=1, optional=True), Field(ge=-1, le=10000)] = -1

    def run(self, ctx):
        if self.clip is None:
            raise ValueError("LoadImageTextSetFromFolderNode: clip is None (the checkpoint has no text encoder)")
        paths = _captioned_images(_subfolder(ctx, self.folder))
        images = load_image_set(paths, self.resize_method, None if self.width == -1 else self.width,
                                None if self.height == -1 else self.height)
        conditioning = []
        for path in paths:
            caption_file = path.with_suffix(".txt")
            caption = caption_file.read_text(encoding="utf-8").strip() if caption_file.exists() else ""
            conditioning += encode(ctx, self.clip, lambda encoder, text=caption: encoder.tokenize(text))
        return (images, conditioning)
