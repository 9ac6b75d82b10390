"""GET /openapi.json, generated from the routes and the pydantic models their handlers use.

A handler declares its body and answer with `@documented(request=..., response=...)`; the
document is built by walking the application's router, so it never drifts from the code.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.schemas import ErrorResponse

_DOC_ATTR = "__loom_api_doc__"


def documented(
    request: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    query: dict[str, str] | None = None,
    multipart: dict[str, str] | None = None,
) -> Callable:
    """Attach request/response models and query parameters (name -> description) to a handler."""

    def mark(handler: Callable) -> Callable:
        setattr(handler, _DOC_ATTR, {"request": request, "response": response, "query": query or {},
                                     "multipart": multipart or {}})
        return handler

    return mark


def _operation(handler: Callable, method: str, path: str, ref: Callable[[type[BaseModel]], dict]) -> dict:
    doc = getattr(handler, _DOC_ATTR, {})
    summary, _, description = inspect.cleandoc(handler.__doc__ or "").partition("\n")
    op: dict[str, Any] = {"summary": summary or f"{method} {path}", "responses": {"200": {"description": "OK"}}}
    if description.strip():
        op["description"] = description.strip()
    params = [{"name": n, "in": "query", "description": d, "schema": {"type": "string"}}
              for n, d in doc.get("query", {}).items()]
    params += [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
               for n in _path_params(path)]
    if params:
        op["parameters"] = params
    if doc.get("request"):
        op["requestBody"] = {"content": {"application/json": {"schema": ref(doc["request"])}}}
        op["responses"]["400"] = {"description": "Malformed body; names the field",
                                  "content": {"application/json": {"schema": ref(ErrorResponse)}}}
    if doc.get("multipart"):
        props = {n: {"type": "string", "description": d} for n, d in doc["multipart"].items()}
        op["requestBody"] = {"content": {"multipart/form-data": {"schema": {"type": "object", "properties": props}}}}
    if doc.get("response"):
        op["responses"]["200"]["content"] = {"application/json": {"schema": ref(doc["response"])}}
    return op


def _path_params(path: str) -> list[str]:
    return [part[1:-1].split(":")[0] for part in path.split("/") if part.startswith("{")]


def build_openapi(app: web.Application, title: str = "Loom", version: str = "0.1.0") -> dict:
    """The OpenAPI 3.1 document for every route of `app` outside the /api alias prefix."""
    models: set[type[BaseModel]] = {ErrorResponse}
    routes = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if not path or path.startswith("/api/") or route.method == "HEAD":
            continue
        doc = getattr(route.handler, _DOC_ATTR, {})
        models.update(m for m in (doc.get("request"), doc.get("response")) if m)
        routes.append((route.method.lower(), path, route.handler))
    _, defs = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")

    def ref(model: type[BaseModel]) -> dict:
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    paths: dict[str, dict] = {}
    for method, path, handler in routes:
        paths.setdefault(path, {})[method] = _operation(handler, method.upper(), path, ref)
    return {"openapi": "3.1.0", "info": {"title": title, "version": version,
                                         "description": "Every path is also served under /api."},
            "paths": paths, "components": {"schemas": defs.get("$defs", {})}}
