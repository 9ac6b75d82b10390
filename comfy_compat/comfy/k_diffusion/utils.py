"""ComfyUI's `comfy.k_diffusion.utils`: the small tensor helpers k-diffusion style samplers use."""

from __future__ import annotations

from typing import Any

import torch

from engine.sampling.schedules import append_zero

__all__ = ["FolderOfImages", "append_dims", "append_zero"]


def append_dims(x: torch.Tensor, target_dims: int) -> torch.Tensor:
    """`x` with trailing singleton dimensions up to `target_dims` (a [B] sigma against a [B,C,H,W] x)."""
    missing = target_dims - x.ndim
    if missing < 0:
        raise ValueError(f"input has {x.ndim} dims but target_dims is {target_dims}, which is less")
    return x[(...,) + (None,) * missing]


class FolderOfImages(torch.utils.data.Dataset):
    """The images of a folder (recursively) as a dataset of (tensor,) items, optionally transformed."""

    IMG_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp"})

    def __init__(self, root: str, transform: Any = None):
        from pathlib import Path

        self.root = Path(root)
        self.transform = transform if transform is not None else (lambda image: image)
        self.paths = sorted(p for p in self.root.rglob("*") if p.suffix.lower() in self.IMG_EXTENSIONS)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, key: int) -> tuple:
        from PIL import Image

        with Image.open(self.paths[key]) as image:
            return (self.transform(image.convert("RGB")),)
