"""A real Loom server on loopback around the test node pack."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.graph.cache import CachePolicy
from engine.graph.context import Services
from engine.graph.executor import Executor
from engine.graph.registry import NodeRegistry
from engine.paths import Folders
from engine.queue import PromptQueue
from tests.server.helpers import TEST_PACK
from web.app import create_app
from web.state import ServerConfig


@pytest.fixture
async def make_client(tmp_path):
    """`await make_client(**ServerConfig overrides)` -> TestClient on a fresh server (closed at the end)."""
    started: list[TestClient] = []

    async def start(**overrides) -> TestClient:
        folders = Folders(tmp_path)
        registry = NodeRegistry(Services(folders=folders))
        registry.register_module(TEST_PACK, source="custom_nodes.loom_test_pack")
        executor = Executor(registry, cache=CachePolicy.classic())
        queue = PromptQueue(folders.user_dir / "queue.sqlite3")
        app = create_app(ServerConfig(folders=folders, **overrides), registry, executor, queue)
        client = TestClient(TestServer(app, host="127.0.0.1"))
        await client.start_server()
        started.append(client)
        return client

    yield start
    for client in started:
        await client.close()


@pytest.fixture
async def client(make_client):
    return await make_client()
