"""Per-user folders under user/<user>/: the files ComfyUI's editor keeps on the server (saved
workflows, settings, its user.css), with paths that cannot leave the user's folder.

Loom serves one user, "default", as ComfyUI does without --multi-user. Writes are atomic (a
temporary file renamed into place), so a reader never sees half a file and a crash leaves the
old one whole.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from engine.paths import UnsafePath, safe_path_under

DEFAULT_USER = "default"
# What the editor reads on its first start (no saved templates, no bookmarked workflows): present,
# a fresh folder loads without a 404.
SEEDED_FOLDERS = ("workflows", "subgraphs")
SEEDED_FILES = {"user.css": "", "comfy.templates.json": "[]", "workflows/.index.json": '{"favorites": []}'}


class FileConflict(FileExistsError):
    """The target exists and the request asked not to overwrite it."""


@dataclass(frozen=True)
class UserFolders:
    """The user/ root: resolves a user's relative paths and lists, writes, moves and deletes there."""

    root: Path

    def user_root(self, user: str = DEFAULT_USER) -> Path:
        """user/<user>/, created (with the folders the editor expects) on first use."""
        folder = safe_path_under(self.root, user)
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            for name in SEEDED_FOLDERS:
                (folder / name).mkdir(exist_ok=True)
            for name, text in SEEDED_FILES.items():
                (folder / name).write_text(text, encoding="utf-8")
        return folder

    def path(self, relative: str, user: str = DEFAULT_USER) -> Path:
        """`relative` inside user/<user>/; raises UnsafePath for '..', absolute paths, NUL bytes or
        symlinks leading out. A name still holding %-escapes (the editor encodes '/' as %2F) is
        decoded once more, so an encoded '..' is refused like a plain one."""
        if "%" in relative:
            relative = unquote(relative)
        if not relative.strip("/"):
            raise UnsafePath("empty path")
        return safe_path_under(self.user_root(user), relative)

    def relative(self, path: Path, user: str = DEFAULT_USER) -> str:
        return path.relative_to(self.user_root(user)).as_posix()

    def file_info(self, path: Path, relative_to: Path) -> dict:
        """{path, size, modified, created} as ComfyUI's full_info answers."""
        stat = path.stat()
        return {"path": path.relative_to(relative_to).as_posix(), "size": stat.st_size,
                "modified": stat.st_mtime, "created": stat.st_ctime}

    def list_files(self, folder: Path, recurse: bool) -> list[Path]:
        """Files (not folders, not hidden) directly in `folder`, or anywhere below it, sorted."""
        found = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")) if recurse else []
            found.extend(Path(dirpath) / name for name in filenames if not name.startswith("."))
        return sorted(found)

    def write(self, path: Path, data: bytes, overwrite: bool) -> None:
        """Write `data` atomically; with overwrite False an existing file raises FileConflict, also
        when another request creates it at the same moment."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            if overwrite:
                os.replace(temporary, path)
            else:
                _link_new(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def move(self, source: Path, dest: Path, overwrite: bool) -> None:
        """Rename a file; with overwrite False an existing destination raises FileConflict."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        if overwrite:
            os.replace(source, dest)
        elif source.is_file():
            _link_new(source, dest)
            os.unlink(source)
        elif dest.exists():
            raise FileConflict(str(dest))
        else:
            os.rename(source, dest)


def _link_new(source: str | Path, dest: Path) -> None:
    """Give `source` the name `dest` only if no file has it (one atomic step)."""
    try:
        os.link(source, dest)
    except FileExistsError:
        raise FileConflict(str(dest)) from None
