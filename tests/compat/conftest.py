"""A registry with the ComfyUI-style test pack loaded over temporary Loom folders holding a few model files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

import comfy_compat
from engine.graph.cache import CachePolicy
from engine.graph.context import Services
from engine.graph.executor import Executor
from engine.graph.packs import PackReport, load_packs
from engine.graph.registry import NodeRegistry
from engine.paths import Folders
from engine.queue import PromptQueue
from web.app import create_app
from web.state import ServerConfig

PACKS = Path(__file__).parent / "packs"
BROKEN_PACKS = Path(__file__).parent / "packs_broken"


@dataclass
class Loaded:
    folders: Folders
    registry: NodeRegistry
    report: PackReport


def loaded_registry(base: Path, packs_dir: Path) -> Loaded:
    folders = Folders(base)
    folders.ensure()
    checkpoints = folders.models_dir / "checkpoints"
    (checkpoints / "sub").mkdir(parents=True)
    (checkpoints / "tiny.safetensors").write_bytes(b"x")
    (checkpoints / "sub" / "other.ckpt").write_bytes(b"x")
    (checkpoints / "notes.txt").write_text("not a model")
    registry = NodeRegistry(Services(folders=folders))
    return Loaded(folders, registry, load_packs(registry, [packs_dir], host=comfy_compat))


@pytest.fixture
def loaded(tmp_path) -> Loaded:
    return loaded_registry(tmp_path, PACKS)


@asynccontextmanager
async def served(loaded: Loaded) -> AsyncIterator[TestClient]:
    """A real Loom server (app, executor, queue) over the loaded packs, with a client to it."""
    executor = Executor(loaded.registry, cache=CachePolicy.classic())
    queue = PromptQueue(loaded.folders.user_dir / "queue.sqlite3")
    app = create_app(ServerConfig(folders=loaded.folders), loaded.registry, executor, queue)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
