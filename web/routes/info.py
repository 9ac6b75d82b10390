"""Read-only facts about the server: nodes, models, extensions, features, system stats, the API doc."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from urllib.parse import quote

from aiohttp import web

from engine.paths import MODEL_KINDS, ModelNotFound, UnsafePath
from web.comfy_packages import editor_versions
from web.nodes_loading import needs_nodes
from web.openapi import build_openapi, documented
from web.schemas import Features
from web.state import CONFIG, FOLDERS, NODES

routes = web.RouteTableDef()
VERSION = "0.1.0"
MAX_HEADER_BYTES = 100 * 1024 * 1024


@routes.get("/object_info")
@needs_nodes
async def object_info(request: web.Request) -> web.Response:
    """Every node class with its inputs, outputs and options (combos listed live)."""
    return web.json_response(await asyncio.to_thread(request.app[NODES].registry.object_info))


@routes.get("/object_info/{node_class}")
@needs_nodes
async def object_info_one(request: web.Request) -> web.Response:
    """One node class as {class_type: info}; {} if unknown."""
    name = request.match_info["node_class"]
    try:
        info = await asyncio.to_thread(request.app[NODES].registry.object_info_for, name)
    except KeyError:
        return web.json_response({})
    return web.json_response({name: info})


@routes.get("/features")
@documented(response=Features)
async def features(request: web.Request) -> web.Response:
    """Server feature flags (also the reply to a websocket feature_flags message)."""
    return web.json_response(server_features(request.app))


def server_features(app: web.Application) -> dict:
    return Features(supports_preview_metadata=True, max_upload_size=app[CONFIG].max_upload_bytes,
                    openapi="/openapi.json", wait_for_prompt=True, overall_progress=True).model_dump()


@routes.get("/embeddings")
@needs_nodes
async def embeddings(request: web.Request) -> web.Response:
    """Embedding names without their extension."""
    names = await asyncio.to_thread(request.app[FOLDERS].list, "embeddings")
    return web.json_response([os.path.splitext(n)[0] for n in names])


@routes.get("/models")
@needs_nodes
async def model_kinds(request: web.Request) -> web.Response:
    """The model folder kinds (checkpoints, vae, loras, ...)."""
    return web.json_response(sorted(set(MODEL_KINDS) | set(request.app[FOLDERS].model_folders)))


@routes.get("/models/{folder}")
@needs_nodes
async def models_of_kind(request: web.Request) -> web.Response:
    """Model files of one kind; 404 for an unknown kind."""
    kind = request.match_info["folder"]
    try:
        return web.json_response(await asyncio.to_thread(request.app[FOLDERS].list, kind))
    except KeyError:
        raise web.HTTPNotFound(text=f"unknown model folder {kind!r}") from None


def safetensors_metadata(path) -> dict | None:
    """The `__metadata__` of a safetensors header (None if the file has none or is not safetensors)."""
    with open(path, "rb") as handle:
        size = int.from_bytes(handle.read(8), "little")
        if not 2 <= size <= MAX_HEADER_BYTES:
            return None
        try:
            header = json.loads(handle.read(size))
        except ValueError:
            return None
    return header.get("__metadata__") if isinstance(header, dict) else None


@routes.get("/view_metadata/{folder}")
@needs_nodes
@documented(query={"filename": "a .safetensors file of that model kind"})
async def view_metadata(request: web.Request) -> web.Response:
    """The metadata stored in a safetensors model file's header."""
    kind, name = request.match_info["folder"], request.query.get("filename", "")
    if not name.endswith(".safetensors"):
        raise web.HTTPBadRequest(text="filename must name a .safetensors file")
    try:
        path = request.app[FOLDERS].find(kind, name)
    except UnsafePath as exc:
        raise web.HTTPForbidden(text=f"refused: {exc}") from None
    except (KeyError, ModelNotFound) as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    metadata = await asyncio.to_thread(safetensors_metadata, path)
    if metadata is None:
        raise web.HTTPNotFound(text=f"{name} has no metadata")
    return web.json_response(metadata)


@routes.get("/extensions")
@needs_nodes
async def extensions(request: web.Request) -> web.Response:
    """URLs of the editor's own extension scripts (ComfyUI's frontend ships extensions/core/*.js),
    then of the JavaScript files node packs ship in their WEB_DIRECTORY."""
    own = request.app[CONFIG].static_dir / "extensions"
    urls = [f"/{path.relative_to(own.parent).as_posix()}" for path in sorted(own.rglob("*.js"))]
    for pack, folder in sorted(request.app[CONFIG].web_extensions.items()):
        for path in sorted(folder.rglob("*.js")):
            urls.append(f"/extensions/{quote(pack)}/{quote(path.relative_to(folder).as_posix())}")
    return web.json_response(urls)


def _memory() -> tuple[int, int]:
    try:
        page, pages = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_PHYS_PAGES")
        return page * pages, page * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0, 0


def _devices() -> tuple[str, list[dict]]:
    """(torch version, devices): CUDA devices when present, otherwise the CPU."""
    import torch  # imported here: the server starts without paying for torch

    total, free = _memory()
    if not torch.cuda.is_available():
        return torch.__version__, [{"name": "cpu", "type": "cpu", "index": None, "vram_total": total,
                                    "vram_free": free, "torch_vram_total": 0, "torch_vram_free": 0}]
    devices = []
    for index in range(torch.cuda.device_count()):
        free_b, total_b = torch.cuda.mem_get_info(index)
        reserved = torch.cuda.memory_reserved(index)
        devices.append({"name": torch.cuda.get_device_name(index), "type": "cuda", "index": index,
                        "vram_total": total_b, "vram_free": free_b, "torch_vram_total": reserved,
                        "torch_vram_free": reserved - torch.cuda.memory_allocated(index)})
    return torch.__version__, devices


@routes.get("/system_stats")
async def system_stats(request: web.Request) -> web.Response:
    """Operating system, memory, versions and devices."""
    torch_version, devices = await asyncio.to_thread(_devices)
    total, free = _memory()
    system = {"os": os.name, "ram_total": total, "ram_free": free,  # "nt" / "posix", as ComfyUI (packs test it)
              **editor_versions(), "loom_version": VERSION, "python_version": sys.version,
              "pytorch_version": torch_version, "embedded_python": False, "argv": sys.argv}
    return web.json_response({"system": system, "devices": devices})


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """This API as an OpenAPI 3.1 document."""
    return web.json_response(build_openapi(request.app, version=VERSION))
