"""Request guards: foreign Hosts and Origins refused, an optional bearer token, and no stack traces to clients.

A web page on another site cannot drive a local server: its Origin differs from the Host the
browser talks to, and a page that points its own name at 127.0.0.1 (DNS rebinding) sends that
name as Host, which is not one the server answers to. With a token set, every route and the websocket need it (only the canvas's
own page and scripts load without it): an `Authorization: Bearer` header, or `?token=` on GET
requests (for <img src> and websockets), which also sets an HttpOnly cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from aiohttp import web

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKEN_COOKIE = "loom_token"
PREFLIGHT = {"Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
             "Access-Control-Allow-Headers": "Content-Type, Authorization", "Access-Control-Max-Age": "600"}


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (the only hosts served without a token by default)."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """'Example.org:8188' -> 'example.org', '[::1]:8188' -> '::1' (the Host header without its port)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_guard(names: Iterable[str]) -> Callable:
    """Refuse (403) requests whose Host header is neither an IP address nor one of `names` ('*' = any)."""
    allowed = frozenset(n.lower().rstrip(".") for n in names)

    @web.middleware
    async def check_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = host_name(request.headers.get("Host", "")).rstrip(".")
        if "*" not in allowed and name and not _is_address(name) and name not in allowed:
            raise web.HTTPForbidden(text=f"host {name!r} is not served here (see --allow-host)")
        return await handler(request)

    return check_host


def _origin_allowed(origin: str, host: str, allowed: frozenset[str]) -> bool:
    if "*" in allowed or origin in allowed:
        return True
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc.lower() == host.lower()


def origin_guard(allowed_origins: Iterable[str]) -> Callable:
    """Refuse (403) requests whose Origin header names another site than the Host they reached."""
    allowed = frozenset(o.rstrip("/") for o in allowed_origins)

    @web.middleware
    async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if origin and not _origin_allowed(origin.rstrip("/"), request.host, allowed):
            raise web.HTTPForbidden(text=f"origin {origin!r} is not allowed (see --allow-origin)")
        if origin and allowed and request.method == "OPTIONS":  # CORS preflight from an allowed origin
            response: web.StreamResponse = web.Response(headers=PREFLIGHT)
        else:
            response = await handler(request)
        if origin and allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        return response

    return check_origin


def token_guard(token: str, public: Callable[[str], bool] = lambda path: False) -> Callable:
    """Require `token` on every request (401 otherwise) except GETs of `public` paths."""
    expected = token.encode()

    def matches(candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), expected)

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in ("GET", "HEAD") and public(request.path):
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        bearer = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        from_query = request.query.get("token") if request.method == "GET" else None
        if not (matches(bearer) or matches(from_query) or matches(request.cookies.get(TOKEN_COOKIE))):
            raise web.HTTPUnauthorized(text="a valid token is required (Authorization: Bearer <token>)",
                                       headers={"WWW-Authenticate": 'Bearer realm="loom"'})
        response = await handler(request)
        if matches(from_query) and not response.prepared:
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="Strict")
        return response

    return check_token


@web.middleware
async def error_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Log unexpected exceptions and answer a short 500; HTTP errors pass through."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        raise web.HTTPInternalServerError(text=f"internal error: {type(exc).__name__}") from None
