"""`python main.py [serve]`: the server's flags, and building and running the app from them.

Safe defaults: 127.0.0.1 only; listening on any other address needs a token (generated and
printed when none is given) unless --no-auth is passed explicitly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import socket
from pathlib import Path

from aiohttp import web

from comfy_compat.comfy_nodes import pack_web_dirs
from launch.cli import StartupError, flag_default, pack_problems, registry_from_args
from web.comfy_frontend import EDITORS, comfyui_static_dir
from web.security import is_loopback

log = logging.getLogger("loom.server")
TOKEN_ENV = "LOOM_AUTH_TOKEN"


def add_serve_flags(parser: argparse.ArgumentParser, suppress_defaults: bool = False) -> None:
    """Network, security, cache and pack flags of the server (ComfyUI's names where one exists)."""

    def default(value):
        return flag_default(value, suppress_defaults)

    group = parser.add_argument_group("server")
    group.add_argument("--listen", nargs="?", const="0.0.0.0", default=default("127.0.0.1"), metavar="HOSTS",
                       help="addresses to listen on, comma-separated (no value: 0.0.0.0; default 127.0.0.1)")
    group.add_argument("--port", type=int, default=default(8188), help="port (default 8188; 0 = any free port)")
    group.add_argument("--auth-token", default=default(None),
                       help=f"require this token on every request and the websocket (or set {TOKEN_ENV})")
    group.add_argument("--no-auth", action="store_true", default=default(False),
                       help="serve without a token even when listening beyond localhost")
    group.add_argument("--allow-origin", action="append", default=default([]), metavar="ORIGIN",
                       help="also accept requests from this Origin, e.g. http://localhost:5173 or * (repeatable)")
    group.add_argument("--allow-host", action="append", default=default([]), metavar="NAME",
                       help="also answer requests whose Host header is NAME (besides IP addresses, localhost and "
                            "the names in --listen; * = any). Other names are refused against DNS rebinding "
                            "(repeatable)")
    group.add_argument("--max-upload-size", type=float, default=default(100.0), metavar="MB",
                       help="largest upload (multipart body), in MB (default 100)")
    group.add_argument("--max-prompt-size", type=float, default=default(8.0), metavar="MB",
                       help="largest JSON body (a prompt with its workflow), in MB; larger ones get 413 "
                            "(default 8)")
    group.add_argument("--front-end", choices=EDITORS, default=default("loom"),
                       help="the editor served at /: Loom's canvas (default) or ComfyUI's frontend "
                            "(pip install 'loom-diffusion[comfyui-frontend]')")
    group.add_argument("--cache-lru", type=int, default=default(0), metavar="N",
                       help="keep the outputs of up to N nodes across prompts (default: the last prompt's)")
    group.add_argument("--cache-none", action="store_true", default=default(False),
                       help="cache nothing between prompts (lowest memory)")
    from launch.compute_flags import add_compute_arguments  # --cpu, budgets, precision, attention
    from launch.scaleout import add_ray_arguments  # --executor ray and its options

    add_compute_arguments(parser, suppress_defaults=suppress_defaults)
    add_ray_arguments(parser, suppress_defaults=suppress_defaults)


def resolve_token(args: argparse.Namespace, hosts: list[str]) -> str | None:
    """The token to require: the flag, the env var, or a fresh one when listening beyond loopback."""
    token = args.auth_token or os.environ.get(TOKEN_ENV) or None
    if token or args.no_auth or all(is_loopback(h) for h in hosts):
        return token
    token = secrets.token_urlsafe(24)
    print(f"Listening beyond localhost: requests need the token {token} "
          f"(Authorization: Bearer <token>, or ?token=<token>); pass --auth-token or --no-auth to choose.")
    return token


def host_names(hosts: list[str], allowed: list[str]) -> tuple[str, ...]:
    """Host header names the server answers besides IP addresses: localhost, the names it listens on,
    this machine's names when it listens on every address, and --allow-host."""
    names = {"localhost", *(h for h in hosts if not _is_wildcard(h)), *allowed}
    if any(_is_wildcard(h) for h in hosts):
        names |= {socket.gethostname(), socket.getfqdn()}
    return tuple(sorted(n.lower() for n in names))


def _is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")


def _cache_policy(args: argparse.Namespace):
    from engine.graph.cache import CachePolicy

    if args.cache_none:
        return CachePolicy.none()
    if args.cache_lru:
        return CachePolicy.lru(args.cache_lru)
    return CachePolicy.classic()


def build_engine(args: argparse.Namespace, base_dir: Path):
    """Folders, node registry (core nodes and packs) and executor from the flags -> (folders, registry,
    pack report, executor); also what each Ray worker builds for itself."""
    from engine.graph.executor import Executor

    folders, registry, packs = registry_from_args(args, base_dir)
    return folders, registry, packs, Executor(registry, cache=_cache_policy(args))


def build_app(args: argparse.Namespace, base_dir: Path, hosts: list[str]) -> web.Application:
    """The engine, the persistent queue and the app; `--executor ray` runs prompts on Ray workers."""
    from engine.queue import PromptQueue
    from web.app import create_app
    from web.state import ServerConfig

    folders, registry, packs, executor = build_engine(args, base_dir)
    for line in pack_problems(packs):
        log.warning(line)
    worker_factory = None
    if args.executor == "ray":
        from launch.scaleout import ray_executor_from_args

        executor, worker_factory = ray_executor_from_args(args, base_dir)
    queue = PromptQueue(folders.user_dir / "queue.sqlite3")
    for prompt_id, action in queue.recovered:
        log.warning("prompt %s was running when the server stopped: %s", prompt_id, action)
    loaded = [pack for pack in packs.packs if pack.ok]
    config = ServerConfig(folders=folders, auth_token=resolve_token(args, hosts),
                          allow_origins=tuple(args.allow_origin), max_upload_mb=args.max_upload_size,
                          max_prompt_mb=args.max_prompt_size, host_names=host_names(hosts, args.allow_host),
                          web_extensions={**packs.web_directories(), **pack_web_dirs()},
                          pack_folders={p.name: p.path for p in loaded})
    if args.front_end == "comfyui":
        try:
            config.static_dir = comfyui_static_dir()
        except FileNotFoundError as exc:
            raise StartupError(str(exc)) from None
    return create_app(config, registry, executor, queue, worker_factory)


async def _serve_forever(app: web.Application, hosts: list[str], port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        sites = [web.TCPSite(runner, host, port) for host in hosts]
        for site in sites:
            try:
                await site.start()
            except OSError as exc:
                raise StartupError(f"cannot listen on {site.name}: {exc.strerror or exc}") from exc
        for address in runner.addresses:
            host, port = address[0], address[1]
            print(f"Loom is serving on http://{f'[{host}]' if ':' in host else host}:{port}", flush=True)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def serve(args: argparse.Namespace, base_dir: Path) -> int:
    """Build the app from `args` and serve until interrupted."""
    logging.basicConfig(level=getattr(args, "log_level", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hosts = [h.strip() for h in args.listen.split(",") if h.strip()] or ["127.0.0.1"]
    app = build_app(args, base_dir, hosts)
    try:
        asyncio.run(_serve_forever(app, hosts, args.port))
    except KeyboardInterrupt:
        pass
    return 0
