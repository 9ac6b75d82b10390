"""The optional packages behind ComfyUI's editor (the `comfyui-frontend` extra): where they are
installed and which versions Loom pins, as ComfyUI 0.3.64 does."""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path

EXTRA_HINT = "pip install 'loom-diffusion[comfyui-frontend]'"
COMFYUI_VERSION = "0.3.64"  # the ComfyUI release whose API, nodes and packs Loom is compatible with
PINNED = {"comfyui-frontend-package": "1.27.10", "comfyui-workflow-templates": "0.1.94"}


def editor_versions() -> dict[str, str | None]:
    """The versions /system_stats reports as ComfyUI does (the editor warns on a mismatch)."""
    try:
        templates: str | None = importlib.metadata.version("comfyui-workflow-templates")
    except importlib.metadata.PackageNotFoundError:
        templates = None
    return {"comfyui_version": COMFYUI_VERSION, "required_frontend_version": PINNED["comfyui-frontend-package"],
            "installed_templates_version": templates,
            "required_templates_version": PINNED["comfyui-workflow-templates"]}


def package_folder(package: str, folder: str) -> Path | None:
    """`folder` inside an installed Python package, or None when the package is not installed."""
    try:
        module = importlib.import_module(package)
    except ImportError:
        return None
    path = Path(module.__file__).resolve().parent / folder
    return path if path.is_dir() else None
