"""What the aiohttp application holds: the server settings and the typed keys of its shared objects."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from engine.downloads import DEFAULT_HOSTS
from engine.paths import Folders
from engine.queue import PromptQueue
from web.nodes_loading import NodesLoading
from web.worker import PromptWorker
from web.ws import Hub

STATIC_DIR = Path(__file__).resolve().parent / "static"


@dataclass
class ServerConfig:
    """Settings the routes read; built by the CLI from its flags or by tests directly."""

    folders: Folders
    auth_token: str | None = None
    allow_origins: tuple[str, ...] = ()
    max_upload_mb: float = 100.0
    max_prompt_mb: float = 8.0  # largest JSON body (a prompt); 413 before reading past it
    body_timeout_s: float = 30.0  # a client that declares a body must send it within this time
    host_names: tuple[str, ...] = ("localhost",)  # Host names answered besides IP addresses ('*' = any)
    download_hosts: tuple[str, ...] = DEFAULT_HOSTS  # where /models/download may fetch from ('*' = any)
    static_dir: Path = STATIC_DIR
    web_extensions: dict[str, Path] = field(default_factory=dict)  # pack name -> its WEB_DIRECTORY
    pack_folders: dict[str, Path] = field(default_factory=dict)  # pack name -> its folder (loaded packs)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_prompt_bytes(self) -> int:
        return int(self.max_prompt_mb * 1024 * 1024)


CONFIG = web.AppKey("config", ServerConfig)
FOLDERS = web.AppKey("folders", Folders)
QUEUE = web.AppKey("queue", PromptQueue)
WORKER = web.AppKey("worker", PromptWorker)
HUB = web.AppKey("hub", Hub)
NODES = web.AppKey("nodes", NodesLoading)  # the node registry, loaded or loading
# functions POST /prompt passes the request JSON through, in order, before reading it (node packs' hooks); one
# that is false (no hook registered) leaves the body as the client sent it
PROMPT_TRANSFORMERS = web.AppKey("prompt_transformers", list)
