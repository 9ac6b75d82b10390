"""A prompt's life through the real server: queueing, websocket messages, caching, history."""

from __future__ import annotations

import asyncio
import json
import struct
import time

from engine.queue import QueueItem
from tests.server.helpers import (
    chain_prompt,
    run_and_wait,
    show_prompt,
    slow_prompt,
    submit,
    until_done,
    until_progress,
    wait_history,
)
from web.state import QUEUE, WORKER


async def test_prompt_lifecycle_sends_expected_messages_and_lands_in_history(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    first = await ws.receive_json()
    assert first["type"] == "status" and first["data"]["sid"] == "c1"
    answer = await submit(client, show_prompt(1, 2))
    assert answer["node_errors"] == {} and isinstance(answer["number"], (int, float))
    messages = await until_done(ws, answer["prompt_id"])
    types = [m["type"] for m in messages if m["type"] not in ("status", "progress_state")]
    assert types[:2] == ["execution_start", "execution_cached"]
    assert types[-2:] == ["execution_success", "executing"]
    executing = [m["data"]["node"] for m in messages if m["type"] == "executing"]
    assert set(executing[:-1]) == {"1", "2", "3", "4"} and executing[-1] is None
    executed = [m["data"] for m in messages if m["type"] == "executed"]
    assert executed == [{**executed[0], "node": "4", "output": {"value": [3]}}]
    overall = [m["data"]["overall"] for m in messages if m["type"] == "progress_state"][-1]
    assert overall["nodes_done"] == overall["nodes_total"] == 4 and overall["fraction"] == 1.0

    # history is written before the end marker is sent: no polling needed
    entry = (await (await client.get(f"/history/{answer['prompt_id']}")).json())[answer["prompt_id"]]
    assert entry["outputs"] == {"4": {"value": [3]}}
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    assert [m[0] for m in entry["status"]["messages"]] == ["execution_start", "execution_cached",
                                                           "execution_success"]
    assert entry["prompt"][1] == answer["prompt_id"] and entry["prompt"][4] == ["4"]
    await ws.close()


async def test_history_is_there_as_soon_as_execution_success_arrives(client, monkeypatch):
    queue = client.server.app[QUEUE]
    finish = queue.finish

    def slow_finish(*args, **kwargs):  # a slow disk: the entry lands well after the prompt ended
        time.sleep(0.5)
        return finish(*args, **kwargs)

    monkeypatch.setattr(queue, "finish", slow_finish)
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt_id = (await submit(client, show_prompt(4, 5)))["prompt_id"]
    while (await ws.receive_json(timeout=60))["type"] != "execution_success":
        pass
    history = await (await client.get(f"/history/{prompt_id}")).json()
    assert history[prompt_id]["outputs"] == {"4": {"value": [9]}}
    await ws.close()


async def test_changed_widget_reruns_only_what_depends_on_it(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    await until_done(ws, (await submit(client, show_prompt(1, 2)))["prompt_id"])
    messages = await until_done(ws, (await submit(client, show_prompt(1, 5)))["prompt_id"])
    cached = next(m["data"]["nodes"] for m in messages if m["type"] == "execution_cached")
    ran = [m["data"]["node"] for m in messages if m["type"] == "executing" and m["data"]["node"]]
    assert cached == ["1"] and sorted(ran) == ["2", "3", "4"]
    executed = next(m["data"] for m in messages if m["type"] == "executed")
    assert executed["output"] == {"value": [6]}
    await ws.close()


async def test_messages_go_only_to_the_submitting_client(client):
    mine = await client.ws_connect("/ws?clientId=mine")
    other = await client.ws_connect("/ws?clientId=other")
    first = await submit(client, show_prompt(), client_id="mine")
    await until_done(mine, first["prompt_id"])
    # every event of the first prompt is queued before this second prompt is even submitted
    second = await submit(client, show_prompt(8), client_id="other")
    seen = await until_done(other, second["prompt_id"])
    assert {m["data"].get("prompt_id") for m in seen} == {None, second["prompt_id"]}
    await mine.close()
    await other.close()


async def test_wait_true_answers_with_the_finished_history_entry(client):
    response = await client.post("/prompt?wait=true", json={"prompt": show_prompt(4, 4)})
    body = await response.json()
    assert response.status == 200
    assert body["history"]["outputs"] == {"4": {"value": [8]}}
    assert body["history"]["status"]["status_str"] == "success"


async def test_crashing_node_reports_error_and_the_next_prompt_runs(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    boom = {"1": {"class_type": "LoomTestConst", "inputs": {"value": 7}},
            "2": {"class_type": "LoomTestBoom", "inputs": {"value": ["1", 0]}},
            "3": {"class_type": "LoomTestShow", "inputs": {"value": ["2", 0]}}}
    failed = await submit(client, boom)
    messages = await until_done(ws, failed["prompt_id"])
    error = next(m["data"] for m in messages if m["type"] == "execution_error")
    assert error["node_id"] == "2" and "boom on purpose (7)" in error["exception_message"]
    entry = await wait_history(client, failed["prompt_id"])
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    assert (await run_and_wait(client, show_prompt()))["history"]["status"]["status_str"] == "success"
    await ws.close()


async def test_interrupt_stops_the_running_prompt_and_the_worker_goes_on(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    answer = await submit(client, slow_prompt())
    await until_progress(ws)
    assert (await (await client.post("/interrupt", json={"prompt_id": "someone-else"})).json()) == {
        "result": "not_found"}
    assert (await (await client.post("/interrupt")).json()) == {"result": "interrupted"}
    messages = await until_done(ws, answer["prompt_id"])
    assert any(m["type"] == "execution_interrupted" for m in messages)
    entry = await wait_history(client, answer["prompt_id"])
    assert entry["status"]["status_str"] == "error"
    assert (await run_and_wait(client, show_prompt()))["history"]["status"]["status_str"] == "success"
    await ws.close()


async def test_reconnecting_client_learns_which_node_is_running(client):
    ws = await client.ws_connect("/ws?clientId=back")
    answer = await submit(client, slow_prompt(), client_id="back")
    await until_progress(ws)
    await ws.close()
    again = await client.ws_connect("/ws?clientId=back")
    status, executing, progress = [await again.receive_json() for _ in range(3)]
    assert status["type"] == "status" and status["data"]["status"]["exec_info"]["queue_remaining"] == 1
    assert executing["data"] == {"node": "1", "display_node": "1", "prompt_id": answer["prompt_id"]}
    assert progress["type"] == "progress_state" and progress["data"]["overall"]["node"] == "1"
    await client.post("/interrupt")
    await until_done(again, answer["prompt_id"])
    await again.close()


async def test_preview_arrives_as_binary_frame(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt = {"1": {"class_type": "LoomTestPreview", "inputs": {"value": 1}},
              "2": {"class_type": "LoomTestShow", "inputs": {"value": ["1", 0]}}}
    messages = await until_done(ws, (await submit(client, prompt))["prompt_id"])
    frames = [m for m in messages if isinstance(m, bytes)]
    assert len(frames) == 1
    event, fmt = struct.unpack(">II", frames[0][:8])
    assert (event, fmt) == (1, 1) and frames[0][8:10] == b"\xff\xd8"  # JPEG magic
    await ws.close()


async def test_preview_with_metadata_for_clients_that_ask(client):
    ws = await client.ws_connect("/ws?clientId=rich")
    await ws.receive_json()
    await ws.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": True}})
    assert (await ws.receive_json())["data"]["supports_preview_metadata"] is True
    prompt = {"1": {"class_type": "LoomTestPreview", "inputs": {"value": 2}},
              "2": {"class_type": "LoomTestShow", "inputs": {"value": ["1", 0]}}}
    answer = await submit(client, prompt, client_id="rich")
    (frame,) = [m for m in await until_done(ws, answer["prompt_id"]) if isinstance(m, bytes)]
    event, length = struct.unpack(">II", frame[:8])
    meta = json.loads(frame[8:8 + length])
    assert event == 4 and meta["node_id"] == "1" and meta["prompt_id"] == answer["prompt_id"]
    assert meta["image_type"] == "image/jpeg" and frame[8 + length:8 + length + 2] == b"\xff\xd8"
    await ws.close()


async def test_long_chain_validates_and_runs(client):
    response = await client.post("/prompt?wait=true", json={"prompt": chain_prompt(5000)})
    body = await response.json()
    assert response.status == 200, body
    assert body["history"]["outputs"] == {"show": {"value": [5000]}}


async def test_websocket_traffic_grows_linearly_with_nodes(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    sizes = {}
    for length in (100, 1000):
        answer = await submit(client, chain_prompt(length) | {"0": {"class_type": "LoomTestConst",
                                                                      "inputs": {"value": length}}})
        messages = await until_done(ws, answer["prompt_id"])
        sizes[length] = (len(messages), sum(len(json.dumps(m)) for m in messages))
    count, size = sizes[1000]
    print(f"1000-node prompt: {count} websocket messages, {size} bytes")
    assert count < 4 * 1000 and size < 1000 * 1500
    assert sizes[1000][1] < 12 * sizes[100][1]
    await ws.close()


async def test_free_memory_drops_cached_outputs(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    await until_done(ws, (await submit(client, show_prompt(1, 2)))["prompt_id"])
    assert (await client.post("/free", json={"free_memory": True})).status == 200
    messages = await until_done(ws, (await submit(client, show_prompt(1, 2)))["prompt_id"])
    assert next(m["data"]["nodes"] for m in messages if m["type"] == "execution_cached") == []
    await ws.close()


async def test_worker_survives_a_failing_executor(client, monkeypatch):
    worker = client.server.app[WORKER]
    real_execute = worker.executor.execute

    async def broken(*args, **kwargs):
        monkeypatch.setattr(worker.executor, "execute", real_execute)  # only the first prompt fails
        raise MemoryError("executor blew up")

    monkeypatch.setattr(worker.executor, "execute", broken)
    failed = await run_and_wait(client, show_prompt())
    error = dict(failed["history"]["status"]["messages"])["execution_error"]
    assert error["exception_type"] == "MemoryError" and "blew up" in error["exception_message"]
    after = await run_and_wait(client, show_prompt(5))
    assert after["history"]["outputs"] == {"4": {"value": [7]}}


async def test_feature_flags_handshake(client):
    ws = await client.ws_connect("/ws?clientId=flags")
    assert (await ws.receive_json())["type"] == "status"
    await ws.send_json({"type": "feature_flags", "data": {"supports_preview_metadata": False}})
    reply = await ws.receive_json()
    assert reply["type"] == "feature_flags" and reply["data"]["max_upload_size"] > 0
    await ws.close()


async def test_client_hanging_up_on_a_waiting_request_does_not_stop_the_prompt(client):
    body = {"prompt": slow_prompt(3, steps=20), "prompt_id": "abandoned"}
    request = asyncio.ensure_future(client.post("/prompt?wait=true", json=body))
    while (await (await client.get("/prompt/abandoned")).json())["state"] == "unknown":
        await asyncio.sleep(0.01)
    request.cancel()  # the client goes away while its prompt runs
    entry = await wait_history(client, "abandoned")
    assert entry["outputs"] == {"2": {"value": [3]}}
    assert (await client.post("/prompt?wait=true", json={"prompt": show_prompt()})).status == 200


async def test_malformed_prompt_that_skipped_validation_cannot_stop_the_worker(client):
    queue = client.server.app[QUEUE]
    for pid, prompt in (("bad-inputs", {"1": {"class_type": "LoomTestShow", "inputs": 5}}),
                        ("bad-node", {"1": 5}), ("bad-links", {"1": {"class_type": "LoomTestShow",
                                                                    "inputs": {"value": ["9", "x", 1]}}})):
        queue.put(QueueItem(queue.next_number(), pid, prompt, {}, ["1"]))
    for pid in ("bad-inputs", "bad-node", "bad-links"):
        assert (await wait_history(client, pid))["status"]["status_str"] == "error"
    after = await run_and_wait(client, show_prompt(5))
    assert after["history"]["outputs"] == {"4": {"value": [7]}}
