"""ComfyUI's `folder_paths`, backed by Loom's Folders (engine/paths.py) from the registry's Services.

Model kinds are Folders' kinds (aliases such as "unet" and "text_encoders" included); every name a
pack passes is resolved with Loom's safe-path rules, so a name never reaches outside its folder.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from comfy_compat import state
from engine.paths import KIND_ALIASES, MODEL_EXTENSIONS, ModelNotFound, UnsafePath, safe_path_under

supported_pt_extensions: set[str] = {*MODEL_EXTENSIONS, ".pt2", ".pkl"}

_extensions: dict[str, set[str]] = {}  # kind -> extensions a pack set through folder_names_and_paths
# ComfyUI's folder kinds Loom's Folders does not define: (folders under models/, extensions).
COMFY_KINDS: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "configs": (("configs",), {".yaml"}),
    "diffusers": (("diffusers",), {"folder"}),
    "classifiers": (("classifiers",), {""}),
    "model_patches": (("model_patches",), set(supported_pt_extensions)),
    "audio_encoders": (("audio_encoders",), set(supported_pt_extensions)),
}


def _folders() -> Any:
    """Loom's Folders, with ComfyUI's kinds that Loom does not define (and custom_nodes) added."""
    folders = state.folders()
    if "custom_nodes" not in folders.model_folders:
        for kind, (names, extensions) in COMFY_KINDS.items():
            if kind not in folders.model_folders:
                folders.model_folders[kind] = [folders.models_dir / name for name in names]
            _extensions.setdefault(kind, extensions)
        _extensions.setdefault("custom_nodes", set())
    loaded_from = state.pack_dirs() or [folders.base_dir / "custom_nodes", *folders.custom_node_dirs]
    folders.model_folders["custom_nodes"] = loaded_from  # where packs load from, first as ComfyUI's own
    return folders


_ANNOTATIONS = {"[output]": "output", "[input]": "input", "[temp]": "temp"}


class _FolderTable(MutableMapping):
    """`folder_names_and_paths`: kind -> ([folders], {extensions}), live over Folders; packs may set entries."""

    def __getitem__(self, kind: str) -> tuple[list[str], set[str]]:
        try:
            folders = _folders().folders_for(kind)
        except KeyError:
            raise KeyError(kind) from None
        return [str(f) for f in folders], _extensions_of(kind)

    def __setitem__(self, kind: str, value: tuple[Iterable[str], Iterable[str]]) -> None:
        paths, extensions = value
        _folders().model_folders[KIND_ALIASES.get(kind, kind)] = [Path(p).absolute() for p in paths]
        _extensions[KIND_ALIASES.get(kind, kind)] = set(extensions) or set(supported_pt_extensions)

    def __delitem__(self, kind: str) -> None:
        del _folders().model_folders[KIND_ALIASES.get(kind, kind)]

    def __iter__(self) -> Iterator[str]:
        return iter(list(_folders().model_folders))

    def __len__(self) -> int:
        return len(_folders().model_folders)


folder_names_and_paths = _FolderTable()


def _extensions_of(kind: str) -> set[str]:
    return _extensions.get(KIND_ALIASES.get(kind, kind), supported_pt_extensions)


def __getattr__(name: str) -> Any:
    """Folder roots as module attributes (`models_dir`, `base_path`, `output_directory`, ...), read live."""
    folders = _folders()
    live = {"models_dir": folders.models_dir, "base_path": folders.base_dir, "output_directory": folders.output_dir,
            "input_directory": folders.input_dir, "temp_directory": folders.temp_dir,
            "user_directory": folders.user_dir}
    if name in live:
        return str(live[name])
    raise AttributeError(f"module 'folder_paths' has no attribute {name!r} (not emulated by Loom)")


def get_input_directory() -> str:
    return str(_folders().input_dir)


def get_output_directory() -> str:
    return str(_folders().output_dir)


def get_temp_directory() -> str:
    return str(_folders().temp_dir)


def get_user_directory() -> str:
    return str(_folders().user_dir)


def get_directory_by_type(type_name: str) -> str | None:
    """'input' | 'output' | 'temp' -> that folder; None for anything else."""
    return str(_folders().root(type_name)) if type_name in ("input", "output", "temp") else None


def get_folder_paths(folder_name: str) -> list[str]:
    """Every folder searched for a model kind (KeyError for an unknown kind, as in ComfyUI)."""
    return folder_names_and_paths[folder_name][0]


def add_model_folder_path(folder_name: str, full_folder_path: str, is_default: bool = False) -> None:
    """Search `full_folder_path` too for `folder_name` models; first when `is_default`."""
    folders = _folders()
    folders.add_model_folder(folder_name, full_folder_path)
    if is_default:
        kind_folders = folders.model_folders[KIND_ALIASES.get(folder_name, folder_name)]
        kind_folders.insert(0, kind_folders.pop(kind_folders.index(Path(full_folder_path).absolute())))


def get_filename_list(folder_name: str) -> list[str]:
    """Model files of a kind, relative names with forward slashes, sorted (KeyError for an unknown kind)."""
    folders = _folders()
    folders.folders_for(folder_name)  # KeyError naming the known kinds
    return folders.list(folder_name, tuple(_extensions_of(folder_name)))


def get_full_path(folder_name: str, filename: str) -> str | None:
    """The file's path, or None when the kind is unknown, the file is missing or the name is unsafe."""
    try:
        return str(_folders().find(folder_name, filename))
    except (KeyError, ModelNotFound, UnsafePath):
        return None


def get_full_path_or_raise(folder_name: str, filename: str) -> str:
    """The file's path; FileNotFoundError (Loom's ModelNotFound, naming the folders searched) otherwise."""
    return str(_folders().find(folder_name, filename))


def annotated_filepath(name: str) -> tuple[str, str | None]:
    """'x.png [output]' -> ('x.png', output dir); no annotation -> (name, None)."""
    for suffix, kind in _ANNOTATIONS.items():
        if name.endswith(" " + suffix):
            return name[: -len(suffix) - 1], str(_folders().root(kind))
    return name, None


def get_annotated_filepath(name: str, default_dir: str | None = None) -> str:
    """Path of an annotated name ('x.png [output]'), else under `default_dir` (default: the input folder).

    Raises engine.paths.UnsafePath when the name would leave its folder.
    """
    name, folder = annotated_filepath(name)
    folder = folder or default_dir or get_input_directory()
    return str(safe_path_under(Path(folder), name))


def exists_annotated_filepath(name: str) -> bool:
    try:
        return os.path.exists(get_annotated_filepath(name))
    except UnsafePath:
        return False


def get_save_image_path(filename_prefix: str, output_dir: str, image_width: int = 0,
                        image_height: int = 0) -> tuple[str, str, int, str, str]:
    """(folder, file name, next counter, subfolder, prefix) for saving `<name>_<counter:05>_.<ext>`.

    %width%, %height% and date variables are expanded; a prefix leaving `output_dir` raises UnsafePath.
    """
    from nodes.save_names import expand_prefix, next_counter, split_prefix  # SaveImage's own naming rules

    filename_prefix = expand_prefix(filename_prefix, image_width, image_height)
    subfolder, filename = split_prefix(filename_prefix)
    folder = safe_path_under(Path(output_dir), subfolder)
    folder.mkdir(parents=True, exist_ok=True)  # ComfyUI creates the subfolder; packs save into it directly
    return str(folder), filename, next_counter(folder, filename), subfolder, filename_prefix


def filter_files_extensions(files: Iterable[str], extensions: Iterable[str]) -> list[str]:
    """Files whose suffix is among `extensions` (all files when `extensions` is empty), sorted."""
    wanted = {e.lower() for e in extensions}
    return sorted(f for f in files if not wanted or os.path.splitext(f)[1].lower() in wanted)


def filter_files_content_types(files: Iterable[str], content_types: Iterable[str]) -> list[str]:
    """Files whose guessed MIME type is one of `content_types` ('image', 'video', 'audio', 'model')."""
    wanted = set(content_types)
    kept = []
    for name in files:
        if "model" in wanted and os.path.splitext(name)[1].lower() in supported_pt_extensions:
            kept.append(name)
            continue
        mime = mimetypes.guess_type(name, strict=False)[0] or ""
        if mime.split("/")[0] in wanted:
            kept.append(name)
    return kept
