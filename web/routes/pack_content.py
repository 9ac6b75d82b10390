"""What node packs ship for the editor besides nodes: translations (/i18n, from each pack's
locales/<lang>/) and example workflows (/workflow_templates, from example_workflows/ and the
older folder names ComfyUI also accepts)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from aiohttp import web

from web.nodes_loading import needs_nodes
from web.state import CONFIG

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

EXAMPLE_FOLDERS = ("example_workflows", "example", "examples", "workflow", "workflows")
# Files beside main.json that land under their own key of a language's translations.
EXTRA_LOCALE_FILES = ("nodeDefs", "commands", "settings")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        log.error("translations file %s is not valid JSON; skipped", path)
        return {}
    return data if isinstance(data, dict) else {}


def merge_deep(base: dict, extra: dict) -> dict:
    """`extra` merged into a copy of `base`, nested objects key by key (later packs win on leaves)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_deep(merged[key], value)
        else:
            merged[key] = value
    return merged


def pack_translations(packs: dict[str, Path]) -> dict[str, dict]:
    """{lang: translations}: each pack's locales/<lang>/main.json plus nodeDefs/commands/settings.json."""
    translations: dict[str, dict] = {}
    for _, folder in sorted(packs.items()):
        locales = folder / "locales"
        for lang in sorted(p for p in locales.iterdir() if p.is_dir()) if locales.is_dir() else ():
            found = _read_json(lang / "main.json")
            for key in EXTRA_LOCALE_FILES:
                extra = _read_json(lang / f"{key}.json")
                if extra:
                    found[key] = extra
            if found:
                translations[lang.name] = merge_deep(translations.get(lang.name, {}), found)
    return translations


def example_folders(packs: dict[str, Path]) -> dict[str, list[Path]]:
    """Pack name -> its example workflow folders, in ComfyUI's order of names."""
    found: dict[str, list[Path]] = {}
    for name, folder in sorted(packs.items()):
        for sub in EXAMPLE_FOLDERS:
            if (folder / sub).is_dir():
                found.setdefault(name, []).append(folder / sub)
    return found


@routes.get("/i18n")
@needs_nodes
async def i18n(request: web.Request) -> web.Response:
    """Translations from the packs' locales folders, by language."""
    return web.json_response(pack_translations(request.app[CONFIG].pack_folders))


@routes.get("/workflow_templates")
@needs_nodes
async def workflow_templates(request: web.Request) -> web.Response:
    """Pack name -> names of its example workflows (files at /api/workflow_templates/<pack>/<name>.json)."""
    listing = {}
    for name, folders in example_folders(request.app[CONFIG].pack_folders).items():
        listing[name] = [path.stem for folder in folders for path in sorted(folder.glob("*.json"))]
    return web.json_response({name: stems for name, stems in listing.items() if stems})
