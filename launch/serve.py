"""`python main.py [serve]`: building the app from the flags (launch/serve_flags.py) and serving it.

The port opens first and the node registry (every node module and pack, and torch with them) loads
in a background thread right after, so the server answers within a fraction of a second; what needs
the nodes waits for them (web/nodes_loading.py).

Safe defaults: 127.0.0.1 only; listening on any other address needs a token (generated and
printed when none is given) unless --no-auth is passed explicitly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import time
from pathlib import Path

from aiohttp import web

from engine.downloads import DEFAULT_HOSTS
from engine.paths import Folders
from launch.cli import StartupError, created_folders, pack_problems, registry_for_folders, registry_from_args
from launch.serve_flags import TOKEN_ENV
from web.comfy_frontend import comfyui_static_dir
from web.nodes_loading import ExecutorWhenLoaded, Nodes, NodesLoading
from web.security import is_loopback
from web.state import NODES, ServerConfig

log = logging.getLogger("loom.server")


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


def load_nodes(args: argparse.Namespace, folders: Folders, config: ServerConfig) -> Nodes:
    """The node registry (core nodes, then packs) and its executor; the packs' problems are logged and
    their web folders put in `config` (runs on the loading thread, before any request sees them)."""
    from comfy_compat.comfy_nodes import pack_web_dirs
    from engine.graph.executor import Executor

    began = time.perf_counter()
    registry, packs = registry_for_folders(args, folders)
    for line in pack_problems(packs):
        log.warning(line)
    config.web_extensions.update({**packs.web_directories(), **pack_web_dirs()})
    config.pack_folders.update({p.name: p.path for p in packs.packs if p.ok})
    log.info("%d node types loaded in %.2f s", len(registry), time.perf_counter() - began)
    return Nodes(registry, Executor(registry, cache=_cache_policy(args)))


def build_app(args: argparse.Namespace, base_dir: Path, hosts: list[str]) -> web.Application:
    """The persistent queue and the app; its nodes load when `app[NODES].start()` is called (serve does,
    once the port is open). `--executor ray` runs prompts on Ray workers."""
    from engine.queue import PromptQueue
    from web.app import create_app

    folders = created_folders(args, base_dir)
    config = ServerConfig(folders=folders, auth_token=resolve_token(args, hosts),
                          allow_origins=tuple(args.allow_origin), max_upload_mb=args.max_upload_size,
                          max_prompt_mb=args.max_prompt_size, host_names=host_names(hosts, args.allow_host),
                          download_hosts=(*DEFAULT_HOSTS, *args.download_host))
    if args.front_end == "comfyui":
        try:
            config.static_dir = comfyui_static_dir()
        except FileNotFoundError as exc:
            raise StartupError(str(exc)) from None
    loading = NodesLoading(lambda: load_nodes(args, folders, config))
    executor, worker_factory = ExecutorWhenLoaded(loading), None
    if args.executor == "ray":
        from launch.scaleout import ray_executor_from_args

        executor, worker_factory = ray_executor_from_args(args, base_dir)
    queue = PromptQueue(folders.user_dir / "queue.sqlite3")
    for prompt_id, action in queue.recovered:
        log.warning("prompt %s was running when the server stopped: %s", prompt_id, action)
    return create_app(config, loading, executor, queue, worker_factory)


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
        app[NODES].start()  # after the port is open: nothing the server answers at once waits for it
        await _until_stopped()
    finally:
        await runner.cleanup()


async def _until_stopped() -> None:
    """Return on SIGINT or SIGTERM (docker stop, systemd): the server then stops in order, the running prompt
    going back to the queue and the websockets closed. Python's defaults would kill the process on SIGTERM
    (the prompt ran again, but counted as a crash) and leave SIGINT ignored when the server was started with
    it ignored (a script's `&` job). The handlers go after the first signal: a second one stops at once."""
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal(number: int) -> None:
        log.info("%s: stopping (send it again to stop at once)", signal.Signals(number).name)
        for each in signals:
            loop.remove_signal_handler(each)
        stopped.set()

    try:
        for number in signals:
            loop.add_signal_handler(number, on_signal, number)
    except NotImplementedError:  # Windows: Ctrl+C raises KeyboardInterrupt, which serve() catches
        pass
    await stopped.wait()


def serve(args: argparse.Namespace, base_dir: Path) -> int:
    """Build the app from `args` and serve until interrupted."""
    logging.basicConfig(level=getattr(args, "log_level", "INFO"), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    hosts = [h.strip() for h in args.listen.split(",") if h.strip()] or ["127.0.0.1"]
    app = build_app(args, base_dir, hosts)
    from web.worker import PromptWorker

    PromptWorker.tunes_collector = True  # this process is the server: its start-up heap lives as long as it
    try:
        asyncio.run(_serve_forever(app, hosts, args.port))
    except KeyboardInterrupt:
        pass
    return 0
