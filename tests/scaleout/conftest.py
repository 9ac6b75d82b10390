"""A local two-worker Ray cluster on loopback (one per test module) and a real Loom front per test."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.needs import UNDER_CI

PACKS_DIR = Path(__file__).parent / "packs"
NEEDS_RAY = pytest.mark.skipif(importlib.util.find_spec("ray") is None and not UNDER_CI,
                               reason="Ray is not installed (optional extra loom[ray]: pip install ray)")


@pytest.fixture(scope="module")
def ray_pool(tmp_path_factory):
    """(flags, base dir, WorkerPool): two CPU workers that load the test pack themselves."""
    import ray

    from engine.scaleout.pool import start_pool
    from launch.cli import build_parser
    from launch.serve import build_engine

    base = tmp_path_factory.mktemp("loom_base")
    args = build_parser().parse_args(["--base-directory", str(base), "--custom-nodes-dir", str(PACKS_DIR), "--cpu"])
    pool = start_pool(args, base, build_engine, workers=2, num_cpus=2, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield args, base, pool
    pool.shutdown()
    ray.shutdown()


@pytest.fixture
async def front(ray_pool, tmp_path):
    """A TestClient on a Loom server whose prompts run on the module's Ray workers."""
    from aiohttp.test_utils import TestClient, TestServer

    from engine.queue import PromptQueue
    from engine.scaleout.executor import RayExecutor
    from launch.serve import build_engine
    from web.app import create_app
    from web.lanes import PromptLanes
    from web.state import ServerConfig

    args, base, pool = ray_pool
    folders, registry, _, _ = build_engine(args, base)
    queue = PromptQueue(tmp_path / "queue.sqlite3")
    app = create_app(ServerConfig(folders=folders), registry, RayExecutor(pool), queue, PromptLanes)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()
