"""Textual-inversion embeddings (`embedding:name` in prompts) read from the embeddings folders.

Understands the formats in circulation: A1111 .pt (`string_to_param` {"*": tensor}), A1111
.safetensors (`emb_params`), SDXL pairs (`clip_l` / `clip_g`), and single-tensor diffusers files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file

EXTENSIONS = (".safetensors", ".pt", ".bin", ".pth")
_log = logging.getLogger(__name__)


def read_embedding_file(path: Path) -> dict:
    """The raw contents: safetensors directly, pickles only through torch's weights-only loader."""
    if path.suffix == ".safetensors":
        return load_file(str(path))
    data = torch.load(path, map_location="cpu", weights_only=True)
    return data if isinstance(data, dict) else {"vectors": data}


def embedding_vectors(data: dict, key: str | None, width: int) -> torch.Tensor | None:
    """Pick the [n, width] vectors for one text encoder (`key` like "clip_l"); None if none fit."""
    if "string_to_param" in data:
        tensor = next(iter(data["string_to_param"].values()))
    elif key is not None and key in data:
        tensor = data[key]
    elif "emb_params" in data:
        tensor = data["emb_params"]
    else:
        fitting = [v for v in data.values() if isinstance(v, torch.Tensor) and v.shape[-1] == width]
        tensor = fitting[0] if fitting else None
    if not isinstance(tensor, torch.Tensor) or tensor.shape[-1] != width:
        return None
    return tensor.detach().reshape(-1, width).float()


class EmbeddingLibrary:
    """Finds `name` (with or without extension, subfolders allowed) under the given folders."""

    def __init__(self, folders: Sequence[Path] = ()) -> None:
        self.folders = [Path(f) for f in folders]
        self._cache: dict[Path, dict] = {}

    def find_file(self, name: str) -> Path | None:
        for folder in self.folders:
            root = folder.resolve()
            for candidate in (name, *(name + ext for ext in EXTENSIONS)):
                path = (root / candidate).resolve()
                if path.is_relative_to(root) and path.is_file():
                    return path
        return None

    def vectors(self, name: str, key: str | None, width: int) -> torch.Tensor | None:
        """The embedding's vectors for an encoder of `width` (looked up by `key` in dual files)."""
        path = self.find_file(name)
        if path is None:
            return None
        if path not in self._cache:
            self._cache[path] = read_embedding_file(path)
        vectors = embedding_vectors(self._cache[path], key, width)
        if vectors is None:
            _log.warning("embedding %s has no vectors of width %d (for %s); ignored", path.name, width, key)
        return vectors
