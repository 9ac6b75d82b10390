"""Client-named files: path checks, safe content types, previews, uploads with unique names.

Every name from a client goes through `Folders.safe_join`, so it stays under the input,
output or temp folder; nothing is read, written or deleted before that check passes.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import os
import tempfile
from pathlib import Path

from aiohttp import web
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from engine.paths import Folders, UnsafePath
from web.schemas import bad_request

UMASK = os.umask(0o022)  # read once, at import, while no other thread creates files
os.umask(UMASK)
FILE_TYPES = ("input", "output", "temp")
# Served with their own content type; anything else (HTML, JS, CSS, SVG...) as an opaque download.
INLINE_TYPES = {"image/png", "image/jpeg", "image/webp", "image/gif", "image/bmp", "image/avif",
                "video/mp4", "video/webm", "video/quicktime", "audio/mpeg", "audio/wav", "audio/x-wav",
                "audio/flac", "audio/ogg", "audio/webm", "audio/mp4"}
MAX_NAME_BYTES = 255  # longest file name most file systems take
MEDIA_SUFFIXES = {".mp4", ".webm", ".mov", ".mkv", ".gif", ".wav", ".mp3", ".flac", ".ogg", ".m4a"}


def split_annotated(filename: str, type_: str | None) -> tuple[str, str]:
    """'name.png [output]' -> ('name.png', 'output'); otherwise the given type (default output)."""
    for kind in FILE_TYPES:
        suffix = f" [{kind}]"
        if filename.endswith(suffix):
            return filename[: -len(suffix)], kind
    return filename, type_ or "output"


def resolve(folders: Folders, type_: str, subfolder: str, filename: str) -> Path:
    """The checked path: 400 for a bad type or name, 403 for a name that escapes its folder."""
    if type_ not in FILE_TYPES:
        raise bad_request("invalid_type", f"type must be one of {', '.join(FILE_TYPES)}", f"got {type_!r}")
    if "\x00" in filename or "\x00" in subfolder:
        raise bad_request("invalid_filename", "file names must not contain NUL bytes")
    try:
        f"{subfolder}/{filename}".encode()
    except UnicodeEncodeError:
        raise bad_request("invalid_filename", "file names must be valid UTF-8", repr(filename)) from None
    check_name(filename)
    long_part = next((p for p in f"{subfolder}/{filename}".replace("\\", "/").split("/")
                      if len(p.encode()) > MAX_NAME_BYTES), None)
    if long_part is not None:
        raise bad_request("invalid_filename", f"file and folder names must be at most {MAX_NAME_BYTES} bytes",
                          f"{long_part[:40]}... is {len(long_part.encode())} bytes")
    try:
        return folders.safe_join(type_, subfolder, filename)
    except UnsafePath as exc:
        raise web.HTTPForbidden(text=f"refused: {exc}") from None


def check_name(filename: str) -> None:
    """400 for a name that is empty or names a folder rather than a file: '.', '..', 'a/..', 'x/'."""
    parts = filename.replace("\\", "/").split("/")
    if parts[-1] in ("", ".", ".."):
        raise bad_request("invalid_filename", "a file name is required (not empty, '.', '..' or ending in '/')",
                          f"got {filename!r}")


def content_type(path: Path) -> str:
    """The type to serve `path` with: media types as such, everything else as octet-stream."""
    guessed = mimetypes.guess_type(path.name)[0] or ""
    return guessed if guessed in INLINE_TYPES else "application/octet-stream"


def preview_bytes(path: Path, preview: str | None, channel: str) -> tuple[bytes, str] | None:
    """Re-encode an image for `preview` ('webp;90', 'jpeg;80', 'png') and/or `channel` (rgb, a);
    None when the file should be served as it is."""
    if not preview and channel in ("", "rgba"):
        return None
    fmt, _, quality = (preview or "png").partition(";")
    fmt = {"jpg": "jpeg"}.get(fmt.lower(), fmt.lower())
    if fmt not in ("webp", "jpeg", "png"):
        raise bad_request("invalid_preview", "preview format must be webp, jpeg or png", f"got {fmt!r}")
    try:
        image = open_image(path)
    except UnidentifiedImageError:
        return None
    if channel == "a":
        image = image.getchannel("A") if "A" in image.getbands() else Image.new("L", image.size, 255)
    elif channel == "rgb" or fmt == "jpeg":
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt.upper(), quality=int(quality) if quality.isdigit() else 90)
    return buffer.getvalue(), f"image/{fmt}"


def open_image(path: Path | io.BytesIO) -> Image.Image:
    """Open and fully decode an image, refusing decompression bombs (pixel count over pillow's limit)."""
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise bad_request("image_too_large", "Image has too many pixels", str(exc)) from None
    width, height = image.size
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        raise bad_request("image_too_large", "Image has too many pixels", f"{width}x{height}")
    image.load()
    return image


def check_upload(data: bytes, filename: str) -> None:
    """400 unless `data` is an image pillow can decode safely, or a known audio/video file."""
    try:
        open_image(io.BytesIO(data))
    except UnidentifiedImageError:
        if Path(filename).suffix.lower() not in MEDIA_SUFFIXES:
            raise bad_request("invalid_image", "Uploaded file is not an image or a known media file",
                              filename) from None
    except (OSError, ValueError) as exc:
        raise bad_request("invalid_image", "Uploaded image could not be decoded", str(exc)) from None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unique_target(path: Path, data: bytes, overwrite: bool) -> tuple[Path, bool]:
    """Where to store `data`: `path`, the same file if identical content is already there, or
    'name (n).ext'. Returns (path, needs_writing)."""
    if overwrite or not path.exists():
        return path, True
    candidate, n = path, 0
    while candidate.exists():
        if candidate.is_file() and _digest(candidate.read_bytes()) == _digest(data):
            return candidate, False
        n += 1
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
    return candidate, True


def write_atomic(path: Path, data: bytes) -> None:
    """Write through a temporary file in the same folder, so readers never see half a file; the file gets
    the mode any new file of this process gets (0666 less the umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes it 0600; other readers (Ray workers) need the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def composite_mask(original: Path, mask_data: bytes) -> bytes:
    """The original image with the mask's alpha as its alpha channel, PNG text metadata kept."""
    base = open_image(original)
    mask = open_image(io.BytesIO(mask_data))
    alpha = mask.getchannel("A") if "A" in mask.getbands() else mask.convert("L")
    result = base.convert("RGBA")
    result.putalpha(alpha.resize(result.size))
    info = PngImagePlugin.PngInfo()
    for key, value in getattr(base, "text", {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    result.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def delete_output_files(folders: Folders, entries: list[dict]) -> int:
    """Delete the output/temp files of history `entries` (path-checked; input files and missing
    files skipped)."""
    deleted = 0
    for entry in entries:
        for kind, path in folders.files_in_ui(entry.get("outputs") or {}):
            if kind in ("output", "temp") and path.is_file():
                path.unlink()
                deleted += 1
    return deleted
