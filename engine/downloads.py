"""Model downloads a workflow asks for: fetched over HTTP into a model folder, resumable (Range) from the
`.part` file an interrupted try left, checked against a sha256 when one is given, and only then renamed
into place, so a half-written file is never listed as a model. Torch-free; the web layer reports progress."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:  # aiohttp's client costs ~0.1 s to import; the load nodes here only hash files
    import aiohttp

CHUNK = 1 << 20
PART_SUFFIX = ".part"
# Where a workflow's models may come from unless --download-host says otherwise: the hosts ComfyUI's
# frontend offers missing models from (it also allows localhost, left out here: a server fetching from its
# own machine's services on a request's say is what the list is there to prevent).
DEFAULT_HOSTS = ("huggingface.co", "civitai.com")


class DownloadRefused(ValueError):
    """The request names an unsafe file name, an unknown folder, a URL scheme other than http(s) or a host
    that is not allowed."""


class DownloadFailed(RuntimeError):
    """The server answered with an error, or the file's sha256 differs from the one promised."""


@dataclass(frozen=True)
class DownloadTarget:
    url: str
    folder: Path
    name: str
    sha256: str | None = None

    @property
    def path(self) -> Path:
        return self.folder / self.name


def safe_name(name: str) -> str:
    """`name` when it is one plain file name (or sub/name with plain parts); refuses traversal and oddities."""
    parts = name.replace("\\", "/").split("/")
    if not name or "\0" in name or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise DownloadRefused(f"unsafe model file name {name!r}: give a plain file name like model.safetensors")
    return "/".join(parts)


def host_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """Whether `url`'s host is one of `hosts` or a subdomain of one ('*' allows any). Only the URL asked
    for is checked: a listed host's redirects (Hugging Face's to its CDN) are followed, as a browser would."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    listed = [h.lower().rstrip(".") for h in hosts]
    if "*" in listed:
        return True
    plain = host and all(c.isascii() and (c.isalnum() or c in ".-") for c in host)  # not "evil\\.huggingface.co"
    return bool(plain) and any(host == h or host.endswith("." + h) for h in listed)


def make_target(url: str, folder: Path, name: str, sha256: str | None = None,
                hosts: tuple[str, ...] = DEFAULT_HOSTS) -> DownloadTarget:
    """Validate a request: http(s) URL on an allowed host, safe name staying inside `folder`, hex sha256 when
    given."""
    if not url.startswith(("http://", "https://")):
        raise DownloadRefused(f"only http(s) URLs can be downloaded, not {url!r}")
    if not host_allowed(url, hosts):
        raise DownloadRefused(f"{urlsplit(url).hostname!r} is not a download host: this server downloads from "
                              f"{', '.join(hosts) or 'nowhere'} (--download-host adds one)")
    name = safe_name(name)
    if not (folder / name).resolve().is_relative_to(folder.resolve()):
        raise DownloadRefused(f"model file name {name!r} leaves its folder")
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise DownloadRefused(f"sha256 must be 64 hex digits, got {sha256!r}")
    return DownloadTarget(url, folder, name, sha256.lower() if sha256 else None)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file read in chunks (the downloads' integrity check; the load nodes' change key)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


Progress = Callable[[int, int | None], None]


async def download(target: DownloadTarget, session: aiohttp.ClientSession, progress: Progress) -> Path:
    """Fetch `target` (resuming its `.part` file when the server honours Range) and move it into place.
    `progress(bytes_so_far, total_or_None)` is called after each chunk. Returns the final path."""
    part = target.path.with_name(target.path.name + PART_SUFFIX)
    part.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    async with session.get(target.url, headers=headers) as res:
        if res.status == 416 and have:  # the part file is already whole
            total: int | None = have
        elif res.status not in (200, 206):
            raise DownloadFailed(f"{target.url} answered HTTP {res.status}")
        else:
            resumed = res.status == 206
            have = have if resumed else 0
            total = have + res.content_length if res.content_length is not None else None
            with part.open("ab" if resumed else "wb") as out:
                async for chunk in res.content.iter_chunked(CHUNK):
                    out.write(chunk)
                    have += len(chunk)
                    progress(have, total)
                out.flush()
                await asyncio.to_thread(os.fsync, out.fileno())
    if target.sha256 and (actual := await asyncio.to_thread(file_sha256, part)) != target.sha256:
        part.unlink()
        raise DownloadFailed(f"{target.name}: sha256 {actual} differs from the expected {target.sha256}")
    os.replace(part, target.path)
    progress(have, total)
    return target.path
