"""The test pack on a real Loom server: its routes answer, send_sync reaches websocket clients, interrupts land."""

from __future__ import annotations

import pytest

from tests.compat.conftest import served
from tests.server.helpers import submit, until_done, until_progress


@pytest.fixture
async def client(loaded):
    async with served(loaded) as client:
        yield client


async def test_pack_route_answers_with_loom_model_files(client):
    for path in ("/compat_pack/models", "/api/compat_pack/models"):
        response = await client.get(path)
        assert response.status == 200
        assert await response.json() == {"checkpoints": ["sub/other.ckpt", "tiny.safetensors"]}


async def test_send_sync_from_a_route_reaches_every_websocket_client(client):
    ws = await client.ws_connect("/ws?clientId=someone")
    assert (await ws.receive_json())["type"] == "status"
    response = await client.post("/compat_pack/ping", json={"text": "hello"})
    assert response.status == 200
    assert await ws.receive_json(timeout=10) == {"type": "compat_pack.pong", "data": {"echo": "hello"}}
    await ws.close()


async def test_send_sync_from_a_node_reaches_the_prompts_client(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt = {"1": {"class_type": "CompatCount", "inputs": {"steps": 2, "stop_at": 0}},
              "2": {"class_type": "CompatShow", "inputs": {"value": ["1", 0]}}}
    prompt_id = (await submit(client, prompt, client_id="c1"))["prompt_id"]
    messages = await until_done(ws, prompt_id)
    steps = [m["data"] for m in messages if isinstance(m, dict) and m["type"] == "compat_pack.step"]
    assert steps == [{"step": 1, "node": "1"}, {"step": 2, "node": "1"}]
    progress = [m["data"]["value"] for m in messages if isinstance(m, dict) and m["type"] == "progress"]
    assert progress == [1, 2]
    await ws.close()


async def test_server_interrupt_stops_a_node_polling_processing_interrupted(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt = {"1": {"class_type": "CompatWaitForInterrupt", "inputs": {"seconds": 60.0}},
              "2": {"class_type": "CompatShow", "inputs": {"value": ["1", 0]}}}
    prompt_id = (await submit(client, prompt, client_id="c1"))["prompt_id"]
    await until_progress(ws)
    assert (await client.post("/interrupt", json={})).status == 200
    messages = await until_done(ws, prompt_id)
    kinds = [m["type"] for m in messages if isinstance(m, dict)]
    assert "execution_interrupted" in kinds and "execution_success" not in kinds
    await ws.close()


async def test_send_sync_from_a_node_arrives_between_its_start_and_the_next_nodes(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt = {"1": {"class_type": "CompatCount", "inputs": {"steps": 3, "stop_at": 0}},
              "2": {"class_type": "CompatShow", "inputs": {"value": ["1", 0]}}}
    messages = await until_done(ws, (await submit(client, prompt, client_id="c1"))["prompt_id"])
    order = [m["type"] if m["type"] != "executing" else f"executing {m['data']['node']}" for m in messages
             if isinstance(m, dict) and m["type"] in ("executing", "compat_pack.step", "progress", "executed")]
    assert order == ["executing 1", *["compat_pack.step", "progress"] * 3, "executing 2", "executed",
                     "executing None"]
    await ws.close()
