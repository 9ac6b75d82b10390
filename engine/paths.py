"""Where Loom reads and writes files: the input/output/temp/user roots and the model folders.

Every file name that comes from a workflow or a client goes through `safe_join` or `find`, so a
name can never reach outside the folder it is meant for. Torch-free.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft")

# Each model kind and the folder names (under the models root) that hold it, first one preferred.
MODEL_KINDS: dict[str, tuple[str, ...]] = {
    "checkpoints": ("checkpoints",),
    "vae": ("vae",),
    "loras": ("loras",),
    "controlnet": ("controlnet", "t2i_adapter"),
    "embeddings": ("embeddings",),
    "clip_vision": ("clip_vision",),
    "diffusion_models": ("diffusion_models", "unet"),
    "clip": ("clip", "text_encoders"),
    "upscale_models": ("upscale_models",),
    "style_models": ("style_models",),
    "gligen": ("gligen",),
    "hypernetworks": ("hypernetworks",),
    "vae_approx": ("vae_approx",),
    "photomaker": ("photomaker",),
    "configs": ("configs",),
    "diffusers": ("diffusers",),
}

# Keys of an extra-model-paths YAML that name a kind under another name.
KIND_ALIASES = {"unet": "diffusion_models", "text_encoders": "clip", "t2i_adapter": "controlnet"}

ROOT_KINDS = ("input", "output", "temp", "user")
MTIME_SLACK_S = 2.0


class UnsafePath(ValueError):
    """A file name would resolve outside the folder it must stay in."""


class ModelNotFound(FileNotFoundError):
    """A model file was not found in any folder of its kind."""

    def __init__(self, kind: str, name: str, searched: Sequence[Path], shown: Sequence[str] | None = None):
        self.kind, self.name, self.searched = kind, name, list(searched)
        where = ", ".join(shown if shown is not None else map(str, self.searched)) or "(no folders configured)"
        super().__init__(f"{kind} file '{name}' not found; searched: {where}")


def _check_part(part: str, what: str) -> None:
    if "\x00" in part:
        raise UnsafePath(f"{what} contains a NUL byte: {part!r}")
    if os.path.isabs(part) or part.startswith(("/", "\\")) or (len(part) > 1 and part[1] == ":"):
        raise UnsafePath(f"{what} must be relative, got {part!r}")
    if ".." in part.replace("\\", "/").split("/"):
        raise UnsafePath(f"{what} must not contain '..': {part!r}")


def safe_path_under(root: Path, *parts: str) -> Path:
    """Join `parts` under `root` and make sure the result (after symlinks) stays inside `root`."""
    for part in parts:
        _check_part(part, "path")
    real_root = Path(os.path.realpath(root))
    joined = real_root.joinpath(*[p.replace("\\", "/") for p in parts if p])
    resolved = Path(os.path.realpath(joined))
    if os.path.commonpath([real_root, resolved]) != str(real_root):
        raise UnsafePath(f"{'/'.join(parts)!r} resolves outside the {root.name} folder")
    return resolved


class ModelPathsConfigError(ValueError):
    """An extra-model-paths YAML that cannot be read or is not a mapping of named sections."""


def read_extra_model_paths(config: str | Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """Parse an extra-model-paths YAML (named sections, each with `base_path` and per-kind folders).

    Returns ({kind: [folders]}, [custom node folders]). Relative paths are taken relative to
    `base_path`, and a relative `base_path` relative to the YAML file's own folder.
    """
    import yaml  # here: only a run given such a file pays for importing it

    config = Path(config)
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ModelPathsConfigError(f"{config}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ModelPathsConfigError(f"{config}: not valid YAML ({' '.join(str(exc).split())})") from exc
    if not isinstance(data, dict):
        raise ModelPathsConfigError(f"{config}: expected named sections (a YAML mapping), got a {type(data).__name__}")
    kinds: dict[str, list[Path]] = {}
    custom_nodes: list[Path] = []
    for section in data.values():
        if not isinstance(section, dict):
            continue
        base = Path(os.path.expandvars(os.path.expanduser(str(section.get("base_path", "")))))
        if not base.is_absolute():
            base = config.parent / base
        for key, value in section.items():
            if key in ("base_path", "is_default", "download_model_base") or value is None:
                continue
            for line in str(value).splitlines():
                line = os.path.expandvars(os.path.expanduser(line.strip()))
                if not line:
                    continue
                folder = base / line
                if key == "custom_nodes":
                    custom_nodes.append(folder)
                else:
                    kinds.setdefault(KIND_ALIASES.get(key, key), []).append(folder)
    return kinds, custom_nodes


class Folders:
    """The folders of one Loom installation; hosts (CLI, server) build one and pass it around."""

    def __init__(
        self,
        base_dir: str | Path,
        input_dir: str | Path | None = None,
        output_dir: str | Path | None = None,
        temp_dir: str | Path | None = None,
        user_dir: str | Path | None = None,
        models_dir: str | Path | None = None,
        extra_model_paths: str | Path | Iterable[str | Path] | None = None,
    ):
        base = Path(base_dir).absolute()
        self.base_dir = base
        given = {"input": input_dir, "output": output_dir, "temp": temp_dir, "user": user_dir}
        self.roots = {kind: Path(given[kind] or base / kind).absolute() for kind in ROOT_KINDS}
        self.models_dir = Path(models_dir or base / "models").absolute()
        self.model_folders: dict[str, list[Path]] = {
            kind: [self.models_dir / name for name in names] for kind, names in MODEL_KINDS.items()
        }
        self.custom_node_dirs: list[Path] = []
        self._listings = _Listings()
        if isinstance(extra_model_paths, (str, Path)):
            extra_model_paths = [extra_model_paths]
        for config in extra_model_paths or ():
            kinds, custom_nodes = read_extra_model_paths(config)
            for kind, folders in kinds.items():
                for folder in folders:
                    self.add_model_folder(kind, folder)
            self.custom_node_dirs.extend(custom_nodes)

    @property
    def input_dir(self) -> Path:
        return self.roots["input"]

    @property
    def output_dir(self) -> Path:
        return self.roots["output"]

    @property
    def temp_dir(self) -> Path:
        return self.roots["temp"]

    @property
    def user_dir(self) -> Path:
        return self.roots["user"]

    def ensure(self) -> None:
        """Create the input/output/temp/user folders if missing."""
        for root in self.roots.values():
            root.mkdir(parents=True, exist_ok=True)

    def ensure_model_folders(self) -> None:
        """Create the models folder and its usual sub-folders (checkpoints/, vae/, loras/, ...) if
        missing, so that a new user finds where each file goes (done at start-up)."""
        for kind, names in MODEL_KINDS.items():
            if self.models_dir / names[0] in self.model_folders.get(kind, ()):
                (self.models_dir / names[0]).mkdir(parents=True, exist_ok=True)

    def shown(self, path: Path) -> str:
        """`path` as error messages show it: relative to Loom's base folder (models/checkpoints,
        input/x.png), or just its last part for a folder elsewhere, never the server's absolute layout."""
        for base, prefix in ((self.models_dir, "models"), *((root, kind) for kind, root in self.roots.items()),
                             (self.base_dir, "")):
            if path == base or base in path.parents:
                return "/".join(p for p in (prefix, path.relative_to(base).as_posix()) if p not in ("", "."))
        return f".../{path.name}"

    def hide_layout(self, text: str) -> str:
        """`text` (an error message) with each folder's absolute path replaced as `shown` writes it
        (/srv/loom/input/x.png -> input/x.png), deepest folders first."""
        folders = [(self.models_dir, "models"), *((root, kind) for kind, root in self.roots.items())]
        for path, name in sorted(folders, key=lambda pair: -len(str(pair[0]))):
            text = text.replace(f"{path}{os.sep}", f"{name}/").replace(str(path), name)
        return text

    def root(self, root_kind: str) -> Path:
        """The folder for 'input', 'output', 'temp' or 'user'."""
        if root_kind not in self.roots:
            raise UnsafePath(f"unknown folder type {root_kind!r}; expected one of {', '.join(ROOT_KINDS)}")
        return self.roots[root_kind]

    def safe_join(self, root_kind: str, subfolder: str, filename: str) -> Path:
        """`<root>/<subfolder>/<filename>`, refusing '..', absolute parts, NUL bytes and symlinks out."""
        return safe_path_under(self.root(root_kind), subfolder or "", filename)

    def add_model_folder(self, kind: str, folder: str | Path) -> None:
        """Search `folder` too for models of `kind` (new kinds are allowed, for node packs)."""
        folders = self.model_folders.setdefault(KIND_ALIASES.get(kind, kind), [])
        folder = Path(folder).absolute()
        if folder not in folders:
            folders.append(folder)

    def folders_for(self, kind: str) -> list[Path]:
        """Every folder searched for `kind`, in search order."""
        kind = KIND_ALIASES.get(kind, kind)
        if kind not in self.model_folders:
            raise KeyError(f"unknown model kind {kind!r}; known: {', '.join(sorted(self.model_folders))}")
        return list(self.model_folders[kind])

    def list(self, kind: str, extensions: Sequence[str] = MODEL_EXTENSIONS) -> list[str]:
        """Model file names of `kind`, relative to their folder, with forward slashes, sorted."""
        names: set[str] = set()
        for folder in self.folders_for(kind):
            names.update(self._listings.files(folder, extensions))
        return sorted(names)

    def find(self, kind: str, name: str) -> Path:
        """The path of model `name` of `kind`; raises ModelNotFound naming the folders searched."""
        _check_part(name, f"{kind} name")
        folders = self.folders_for(kind)
        for folder in folders:
            # Lexical check only: model folders often hold symlinks to files on other disks, on purpose.
            path = folder / name.replace("\\", "/")
            if path.is_file():
                return path
        raise ModelNotFound(kind, name, folders, [self.shown(f) for f in folders])

    def files_in_ui(self, outputs: dict) -> list[tuple[str, Path]]:
        """(root kind, path) of each file that nodes' UI outputs name, e.g.
        `{"9": {"images": [{"filename", "subfolder", "type"}]}}` (no type means output); names that
        would leave their folder are skipped."""
        found = []
        for ui in outputs.values():
            for items in (ui or {}).values() if isinstance(ui, dict) else ():
                for item in items if isinstance(items, list) else ():
                    if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
                        continue
                    kind = item.get("type") or "output"
                    try:
                        found.append((kind, self.safe_join(kind, str(item.get("subfolder") or ""), item["filename"])))
                    except UnsafePath:
                        continue
        return found

    def list_input_files(self) -> list[str]:
        """Files in the input folder (recursively), relative names with forward slashes."""
        return sorted(self._listings.files(self.input_dir, None))


def _scan(folder: Path) -> tuple[list[str], dict[str, float]]:
    """Relative names of every file under `folder` (following symlinks) and the mtime of every directory."""
    found, dir_mtimes = [], {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        dir_mtimes[dirpath] = os.stat(dirpath).st_mtime
        rel_dir = Path(dirpath).relative_to(folder)
        found += [(rel_dir / name).as_posix() for name in filenames if not name.startswith(".")]
    return found, dir_mtimes


def _unchanged(dir_mtimes: dict[str, float], scanned_at: float) -> bool:
    """True when no directory changed since the scan. Directories modified within the last couple of
    seconds before the scan are not trusted: file-system timestamps are coarse."""
    try:
        return all(os.stat(path).st_mtime == mtime and mtime < scanned_at - MTIME_SLACK_S
                   for path, mtime in dir_mtimes.items())
    except OSError:
        return False


class _Listings:
    """Folder listings, rescanned only when a directory's mtime changed (adding or removing a file
    changes its directory's mtime), so /object_info stays cheap with thousands of models."""

    def __init__(self) -> None:
        self._cache: dict[Path, tuple[list[str], dict[str, float], float]] = {}

    def files(self, folder: Path, extensions: Sequence[str] | None) -> list[str]:
        if not folder.is_dir():
            self._cache.pop(folder, None)
            return []
        cached = self._cache.get(folder)
        if cached is None or not _unchanged(cached[1], cached[2]):
            cached = self._cache[folder] = (*_scan(folder), time.time())
        names = cached[0]
        if extensions is None:
            return list(names)
        suffixes = tuple(extensions)
        return [name for name in names if name.lower().endswith(suffixes)]
