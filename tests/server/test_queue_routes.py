"""Queue and history routes: priorities, deletion, pagination, validation answers, canvas workflows."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.server.helpers import (
    run_and_wait,
    show_prompt,
    slow_prompt,
    submit,
    until_done,
    until_progress,
    wait_history,
)
from web.state import QUEUE, WORKER


async def test_front_jumps_the_queue_and_pending_prompts_can_be_deleted(client):
    ws = await client.ws_connect("/ws?clientId=q")
    running = (await submit(client, slow_prompt(steps=3000), client_id="q"))["prompt_id"]
    await until_progress(ws)
    ids = {}
    for name, front in (("a", False), ("b", False), ("urgent", True)):
        body = {"prompt": show_prompt(), "prompt_id": f"id-{name}", "front": front,
                "extra_data": {"api_key_comfy_org": "SECRET"}}
        ids[name] = (await (await client.post("/prompt", json=body)).json())["prompt_id"]
    queue = await (await client.get("/queue")).json()
    states = [(await (await client.get(f"/prompt/{pid}")).json())["state"] for pid in (running, "id-a", "nope")]
    assert states == ["running", "pending", "unknown"]
    assert [item[1] for item in queue["queue_running"]] == [running]
    assert [item[1] for item in queue["queue_pending"]] == ["id-urgent", "id-a", "id-b"]
    assert "SECRET" not in str(queue)
    assert (await client.post("/queue", json={"delete": ["id-a"]})).status == 200
    assert (await (await client.post("/interrupt", json={"prompt_id": "id-b"})).json())["result"] == "cancelled"
    queue = await (await client.get("/queue")).json()
    assert [item[1] for item in queue["queue_pending"]] == ["id-urgent"]
    await client.post("/queue", json={"clear": True})
    await client.post("/interrupt")
    await until_done(ws, running)
    assert (await (await client.get("/queue")).json()) == {"queue_running": [], "queue_pending": [],
                                                           "paused": False}
    await ws.close()


async def test_history_pagination_and_deletion(client):
    ids = []
    for value in range(4):
        ids.append((await run_and_wait(client, show_prompt(value)))["prompt_id"])
    assert list(await (await client.get("/history")).json()) == ids
    assert list(await (await client.get("/history?max_items=2")).json()) == ids[2:]
    assert list(await (await client.get("/history?max_items=2&offset=1")).json()) == ids[1:3]
    assert (await client.get("/history?max_items=many")).status == 400
    await client.post("/history", json={"delete": [ids[0]]})
    assert (await (await client.get(f"/history/{ids[0]}")).json()) == {}
    await client.post("/api/history", json={"clear": True})
    assert (await (await client.get("/history")).json()) == {}


async def test_invalid_prompt_is_400_with_node_errors(client):
    prompt = {"1": {"class_type": "LoomTestConst", "inputs": {"value": "not a number"}},
              "2": {"class_type": "LoomTestShow", "inputs": {"value": ["1", 0]}}}
    response = await client.post("/prompt", json={"prompt": prompt})
    body = await response.json()
    assert response.status == 400
    assert body["error"]["type"] == "prompt_outputs_failed_validation"
    assert body["node_errors"]["1"]["errors"][0]["extra_info"]["input_name"] == "value"
    unknown = await client.post("/prompt", json={"prompt": {"1": {"class_type": "Nope", "inputs": {}}}})
    assert unknown.status == 400 and (await unknown.json())["error"]["type"] == "invalid_prompt"
    assert (await (await client.get("/queue")).json())["queue_pending"] == []


async def test_partly_valid_prompt_runs_the_good_outputs_and_reports_the_bad(client):
    prompt = show_prompt(2, 3) | {"5": {"class_type": "LoomTestShow", "inputs": {"value": 10**12}}}
    response = await client.post("/prompt?wait=true", json={"prompt": prompt})
    body = await response.json()
    assert response.status == 200
    assert list(body["node_errors"]) == ["5"]
    assert body["history"]["outputs"] == {"4": {"value": [5]}}


async def test_canvas_workflow_is_converted_and_says_so(client):
    ui = {"nodes": [{"id": 1, "type": "LoomTestConst", "mode": 0, "inputs": [],
                     "outputs": [{"name": "INT", "type": "INT", "links": [1]}], "widgets_values": [41]},
                    {"id": 2, "type": "LoomTestShow", "mode": 0,
                     "inputs": [{"name": "value", "type": "INT", "link": 1}], "outputs": [], "widgets_values": []}],
          "links": [[1, 1, 0, 2, 0, "INT"]], "version": 0.4}
    response = await client.post("/prompt?wait=true", json={"prompt": ui})
    body = await response.json()
    assert response.status == 200, body
    assert body["converted_from"] == "ui"
    assert body["history"]["outputs"] == {"2": {"value": [41]}}
    assert body["history"]["prompt"][3]["extra_pnginfo"]["workflow"]["nodes"][0]["type"] == "LoomTestConst"


async def test_reused_prompt_id_is_refused(client):
    body = {"prompt": show_prompt(), "prompt_id": "same"}
    assert (await client.post("/prompt?wait=true", json=body)).status == 200
    again = await client.post("/prompt", json=body)
    assert again.status == 400 and (await again.json())["error"]["type"] == "duplicate_prompt_id"
    await wait_history(client, "same")
    assert (await (await client.get("/api/prompt/same")).json()) == {"prompt_id": "same", "state": "done"}


async def test_webhook_on_loopback_receives_the_history_entry(client):
    received = asyncio.get_running_loop().create_future()

    async def hook(request: web.Request) -> web.Response:
        received.set_result(await request.json())
        return web.Response()

    receiver = web.Application()
    receiver.router.add_post("/done", hook)
    async with TestServer(receiver, host="127.0.0.1") as server:
        url = str(server.make_url("/done"))
        body = {"prompt": show_prompt(20, 1), "extra_data": {"webhook": url}}
        answer = await (await client.post("/prompt", json=body)).json()
        payload = await asyncio.wait_for(received, 30)
    assert payload["prompt_id"] == answer["prompt_id"] and payload["outputs"] == {"4": {"value": [21]}}
    refused = await client.post("/prompt", json={"prompt": show_prompt(),
                                                 "extra_data": {"webhook": "http://example.com/hook"}})
    assert refused.status == 400 and (await refused.json())["error"]["type"] == "invalid_webhook"


async def test_deleting_history_can_delete_its_output_files(client, tmp_path):
    def writer(name: str) -> dict:
        return {"1": {"class_type": "LoomTestWriteText", "inputs": {"value": 1, "name": name, "subfolder": "run"}}}

    keep, drop = [(await run_and_wait(client, writer(n)))["prompt_id"] for n in ("keep", "drop")]
    out = tmp_path / "output" / "run"
    assert sorted(p.name for p in out.iterdir()) == ["drop.txt", "keep.txt"]
    answer = await client.post("/history", json={"delete": [drop], "delete_files": True})
    assert await answer.json() == {"deleted_files": 1}
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    await client.post("/history", json={"delete": [keep]})
    assert (out / "keep.txt").exists()  # without delete_files the files stay


async def test_paused_queue_holds_prompts_until_resumed(client):
    assert (await client.post("/queue", json={"pause": True})).status == 200
    held = (await (await client.post("/prompt", json={"prompt": show_prompt(), "prompt_id": "held"})).json())
    queue = await (await client.get("/queue")).json()
    assert queue["paused"] is True and [item[1] for item in queue["queue_pending"]] == [held["prompt_id"]]
    await client.post("/queue", json={"pause": False})
    assert (await wait_history(client, "held"))["status"]["status_str"] == "success"


async def test_a_prompt_leaving_the_queue_to_run_is_announced_with_a_status_message(client):
    """The editor's queue panel re-reads /queue on every status message. ComfyUI sends one when a prompt is
    taken to run; without it the panel showed the prompt "pending" until it ended (a flaky e2e test)."""
    ws = await client.ws_connect("/ws?clientId=c1")
    await client.post("/queue", json={"pause": True})
    prompt_id = (await submit(client, slow_prompt(steps=500, delay=0.01)))["prompt_id"]
    with contextlib.suppress(asyncio.TimeoutError):  # the status messages of the pause and the submission
        while True:
            await ws.receive_json(timeout=0.5)
    client.app[QUEUE].set_paused(False)  # resumed without a status message of its own
    while (await ws.receive_json(timeout=10))["type"] != "status":
        pass
    queue = await (await client.get("/queue")).json()
    assert [item[1] for item in queue["queue_running"]] == [prompt_id]
    await until_done(ws, prompt_id)


async def test_a_status_broadcast_after_the_worker_stopped_never_reads_the_closed_queue(client, caplog):
    """The worker thread can post a broadcast (a prompt claimed or ended) while the server shuts down; it must
    not fire after the queue is closed (an "Exception in callback" at every such stop)."""
    worker = client.app[WORKER]
    await worker.stop()
    worker.broadcast_status()  # as the worker's last post, arriving after stop() cancelled the pending one
    client.app[QUEUE].close()
    await asyncio.sleep(0.3)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
