"""Read a workflow from wherever users keep one: API JSON, canvas JSON, or a PNG/WebP/video made by a run.

Also builds the metadata that image-saving nodes embed (PNG tEXt chunks, WebP EXIF), so that
writing and reading the format live side by side. Torch-free (Pillow only).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from engine.graph.ui_format import NodeInfoSource, is_ui_workflow, ui_to_api

EXIF_PROMPT_TAG = 0x0110  # "Model": holds `prompt:<json>`
EXIF_FIRST_EXTRA_TAG = 0x010F  # "Make", counting down: holds `<key>:<json>` per extra_pnginfo key


class WorkflowFormatError(ValueError):
    """The file holds no workflow Loom can read."""


def png_info(prompt: dict | None, extra_pnginfo: dict | None) -> PngInfo:
    """tEXt chunks: `prompt` = the API prompt, plus one chunk per extra_pnginfo key (normally `workflow`)."""
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", json.dumps(prompt))
    for key, value in (extra_pnginfo or {}).items():
        info.add_text(key, json.dumps(value))
    return info


def exif_metadata(prompt: dict | None, extra_pnginfo: dict | None) -> Image.Exif:
    """EXIF for WebP: tag 0x0110 = `prompt:<json>`, then 0x010F downward = `<key>:<json>`."""
    exif = Image.Exif()
    if prompt is not None:
        exif[EXIF_PROMPT_TAG] = "prompt:" + json.dumps(prompt)
    for offset, (key, value) in enumerate((extra_pnginfo or {}).items()):
        exif[EXIF_FIRST_EXTRA_TAG - offset] = f"{key}:" + json.dumps(value)
    return exif


def _image_metadata(data: bytes) -> dict[str, str]:
    """Text metadata of a PNG (tEXt/iTXt/zTXt) or WebP (EXIF `key:value` strings) file."""
    image = Image.open(io.BytesIO(data))
    found: dict[str, str] = {}
    for key, value in (getattr(image, "text", None) or {}).items():
        found[key] = value
    for value in image.getexif().values():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, str) and ":" in value:
            key, _, rest = value.partition(":")
            if key in ("prompt", "workflow") or rest.lstrip().startswith(("{", "[")):
                found.setdefault(key, rest)
    return found


def _is_video(data: bytes) -> bool:
    """MP4/MOV (an `ftyp` box first) or WebM/MKV (EBML magic)."""
    return data[4:8] == b"ftyp" or data[:4] == b"\x1aE\xdf\xa3"


def _video_metadata(data: bytes) -> dict[str, str]:
    """Container tags of a video: `prompt`/`workflow` tags, or a `comment` tag holding JSON with those keys."""
    import av  # only when a video is given: keeps workflow loading light

    with av.open(io.BytesIO(data)) as container:
        tags = {k.lower(): v for k, v in container.metadata.items()}
    found = {k: tags[k] for k in ("prompt", "workflow") if k in tags}
    if not found and tags.get("comment", "").lstrip().startswith("{"):
        comment = json.loads(tags["comment"])
        found = {k: json.dumps(comment[k]) for k in ("prompt", "workflow") if isinstance(comment, dict) and k in comment}
    return found


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise WorkflowFormatError(f"{where}: invalid JSON ({exc})") from None


def _from_json(data: Any, registry: NodeInfoSource | None, where: str) -> tuple[dict, dict | None]:
    if is_ui_workflow(data):
        if registry is None:
            raise WorkflowFormatError(f"{where}: a canvas workflow needs the node registry to convert")
        return ui_to_api(data, registry), data
    if isinstance(data, dict) and isinstance(data.get("prompt"), dict):
        # A /prompt request body: {"prompt": {...}, "extra_data": {"extra_pnginfo": {"workflow": ...}}}
        workflow = ((data.get("extra_data") or {}).get("extra_pnginfo") or {}).get("workflow")
        return data["prompt"], workflow
    if isinstance(data, dict) and data and all(isinstance(v, dict) and "class_type" in v for v in data.values()):
        return data, None
    raise WorkflowFormatError(f"{where}: neither an API-format prompt nor a canvas workflow")


def load_workflow(source: str | Path | bytes, registry: NodeInfoSource | None = None) -> tuple[dict, dict | None]:
    """Read (api_prompt, ui_workflow or None) from a path or the file's bytes.

    API JSON is returned as is; canvas JSON is converted with `registry`. For images (PNG, WebP)
    and videos (MP4/MOV/WebM container tags), the `prompt` entry is the API prompt and the
    `workflow` entry the canvas workflow (converted when no `prompt` entry exists).
    """
    where = str(source) if not isinstance(source, bytes) else "workflow"
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    is_image = data.startswith(b"\x89PNG") or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    if is_image or _is_video(data):
        meta = _image_metadata(data) if is_image else _video_metadata(data)
        workflow = _parse_json(meta["workflow"], f"{where} (workflow)") if "workflow" in meta else None
        if "prompt" in meta:
            prompt, _ = _from_json(_parse_json(meta["prompt"], f"{where} (prompt)"), registry, where)
            return prompt, workflow
        if workflow is not None:
            return _from_json(workflow, registry, where)
        raise WorkflowFormatError(f"{where}: the file has no embedded workflow (no 'prompt'/'workflow' metadata)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WorkflowFormatError(f"{where}: not JSON, PNG, WebP or a video") from None
    return _from_json(_parse_json(text, where), registry, where)
