"""ComfyUI's `node_helpers`: Pillow calls that tolerate truncated files, conditioning updates, a hasher.

Plain Python over Pillow and hashlib; no Loom state is involved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from PIL import ImageFile, UnidentifiedImageError

T = TypeVar("T")


def pillow(fn: Callable[[Any], T], arg: Any) -> T:
    """`fn(arg)`, retried once with truncated-image loading allowed when Pillow refuses the file."""
    try:
        return fn(arg)
    except (OSError, UnidentifiedImageError, ValueError):
        previous = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            return fn(arg)
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = previous


def conditioning_set_values(conditioning: list, values: dict | None = None, append: bool = False) -> list:
    """A copy of CONDITIONING ([tensor, options] pairs) with `values` set in every options dict
    (appended to an existing list value when `append`)."""
    updated = []
    for tensor, options in conditioning:
        options = dict(options)
        for key, value in (values or {}).items():
            options[key] = options.get(key, []) + value if append and key in options else value
        updated.append([tensor, options])
    return updated


def hasher() -> Callable[[], Any]:
    """The hash constructor used for file hashes: sha256."""
    return hashlib.sha256

