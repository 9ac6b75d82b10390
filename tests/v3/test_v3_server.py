"""V3 nodes through a real Loom server: /object_info serves them as ComfyUI does, and prompts using them
run over HTTP and the websocket (progress, executed, previews reachable through /view)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

import comfy_compat
from engine.graph.cache import CachePolicy
from engine.graph.context import Services
from engine.graph.executor import Executor
from engine.graph.packs import load_packs
from engine.graph.registry import NodeRegistry
from engine.paths import Folders
from engine.queue import PromptQueue
from tests.server.helpers import submit, until_done, wait_history
from tests.v3.conftest import PACKS
from web.app import create_app
from web.state import ServerConfig

COMFY_INFO = json.loads((Path(__file__).parent / "data" / "comfy_object_info_v3.json").read_text())


@pytest.fixture
async def client(tmp_path):
    folders = Folders(tmp_path)
    registry = NodeRegistry(Services(folders=folders))
    load_packs(registry, [PACKS], host=comfy_compat)
    queue = PromptQueue(folders.user_dir / "queue.sqlite3")
    app = create_app(ServerConfig(folders=folders), registry, Executor(registry, cache=CachePolicy.classic()), queue)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    yield client
    await client.close()


async def test_object_info_serves_v3_nodes_as_comfyui_does(client):
    info = await (await client.get("/object_info")).json()
    assert {name: info[name] for name in COMFY_INFO} == COMFY_INFO
    one = await (await client.get("/object_info/V3TLazySwitch")).json()
    assert one == {"V3TLazySwitch": COMFY_INFO["V3TLazySwitch"]}


async def test_async_v3_prompt_reports_progress_and_its_preview_is_viewable(client):
    prompt = {"s": {"class_type": "V3TAsyncScale", "inputs": {"x": 0.25, "factor": 2.0}},
              "out": {"class_type": "V3TShow", "inputs": {"value": ["s", 0]}},
              "grey": {"class_type": "V3TPreviewGrey", "inputs": {"level": 0.25}}}
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt_id = (await submit(client, prompt))["prompt_id"]
    messages = [m for m in await until_done(ws, prompt_id) if isinstance(m, dict)]
    await ws.close()
    assert {"value": 1, "max": 2, "prompt_id": prompt_id, "node": "s"} in [
        m["data"] for m in messages if m["type"] == "progress"]
    entry = await wait_history(client, prompt_id)
    assert entry["status"]["status_str"] == "success"
    assert entry["outputs"]["out"] == {"text": ["0.5"]}
    [image] = entry["outputs"]["grey"]["images"]
    response = await client.get("/view", params=image)
    assert response.status == 200 and (await response.read()).startswith(b"\x89PNG")
