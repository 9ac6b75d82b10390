"""The Loom front on a local two-worker Ray cluster: concurrency, per-client event order, outputs,
interrupts, model affinity, one malloc arena per worker and a worker killed mid-prompt."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal

from tests.scaleout.conftest import NEEDS_RAY
from tests.scaleout.helpers import (
    history,
    messages_until_done,
    next_message,
    started_on,
    submit,
    wait_history,
    work_prompt,
)

pytestmark = NEEDS_RAY


def _span(entry: dict) -> tuple[int, int]:
    stamps = {kind: data["timestamp"] for kind, data in entry["status"]["messages"]}
    return stamps["execution_start"], stamps["execution_success"]


async def test_prompts_from_two_clients_run_at_once_with_events_in_order_and_outputs_served(front):
    sockets = {cid: await front.ws_connect(f"/ws?clientId={cid}") for cid in ("alice", "bob")}
    mine: dict[str, list[str]] = {"alice": [], "bob": []}
    for i in range(2):
        for cid, ids in mine.items():
            answer = await submit(front, work_prompt(f"{cid}.safetensors", f"{cid}{i}", steps=8, delay=0.1), cid)
            ids.append(answer["prompt_id"])
    frames: dict[str, list[bytes]] = {cid: [] for cid in mine}
    received = {cid: await messages_until_done(ws, set(mine[cid]), frames=frames[cid]) for cid, ws in sockets.items()}
    for cid, got in frames.items():  # previews made on the workers: 4-byte type 1, 4-byte format, a JPEG
        assert len(got) == len(mine[cid]) and all(f[:4] == b"\0\0\0\x01" and f[8:10] == b"\xff\xd8" for f in got)

    for cid, messages in received.items():
        ids = {m["data"].get("prompt_id") for m in messages} - {None}
        assert ids == set(mine[cid]), f"{cid} got messages of other clients' prompts"
        for prompt_id in mine[cid]:
            own = [m for m in messages if m["data"].get("prompt_id") == prompt_id]
            kinds = [m["type"] for m in own if m["type"] != "progress_state"]
            assert kinds[0] == "execution_start" and kinds[-2:] == ["execution_success", "executing"]
            ran = [m["data"]["node"] for m in own if m["type"] == "executing" and m["data"]["node"]]
            assert ran == sorted(ran) and "3" in ran
            steps = [m["data"]["value"] for m in own if m["type"] == "progress"]
            assert steps == sorted(steps)

    entries = [await history(front, p) for ids in mine.values() for p in ids]
    assert all(e["status"]["status_str"] == "success" for e in entries)
    workers = {started_on(e)[0] for e in entries}
    assert workers == {"ray-1", "ray-2"}
    spans = sorted(_span(e) for e in entries)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)), "no two prompts overlapped"

    saved = entries[0]["outputs"]["3"]["images"][0]
    response = await front.get("/view", params={"filename": saved["filename"], "type": "output"})
    assert response.status == 200 and (await response.read()).startswith(b"\x89PNG")
    for ws in sockets.values():
        await ws.close()


async def test_workers_keep_the_prompts_whose_models_they_hold(front):
    models = ("a.safetensors", "b.safetensors")
    first = [(await submit(front, work_prompt(m, f"first-{m}", steps=6, delay=0.1)))["prompt_id"] for m in models]
    homes = {m: started_on(await wait_history(front, p))[0] for m, p in zip(models, first, strict=True)}
    assert homes["a.safetensors"] != homes["b.safetensors"]  # both were idle: the second went to the other

    for round_ in range(2):  # one prompt at a time: both workers idle, each prompt goes where its model is
        for model in models:
            done = (await submit(front, work_prompt(model, f"again{round_}-{model}"), wait=True))["history"]
            assert started_on(done) == [homes[model]]
            cached = next(data["nodes"] for kind, data in done["status"]["messages"] if kind == "execution_cached")
            assert "1" in cached  # the loader's output (the "model") was still there

    await front.post("/free", json={"unload_models": True})
    done = (await submit(front, work_prompt("a.safetensors", "after-free"), wait=True))["history"]
    cached = next(data["nodes"] for kind, data in done["status"]["messages"] if kind == "execution_cached")
    assert "1" not in cached  # every worker dropped its cache and models


async def test_a_worker_s_prompt_thread_allocates_from_the_one_malloc_arena(front):
    """As the server's worker thread does (launch/allocator.py): a thread arena slowed a UNet step by a quarter."""
    done = (await submit(front, {"1": {"class_type": "LoomRayArenas", "inputs": {"tag": "arenas"}}}, wait=True))
    assert done["history"]["outputs"]["1"]["arenas"] == [1]


async def test_interrupt_stops_only_the_named_prompt_on_its_worker(front):
    ws = await front.ws_connect("/ws?clientId=carol")
    stop = (await submit(front, work_prompt("c.safetensors", "stop", steps=200, delay=0.05), "carol"))["prompt_id"]
    keep = (await submit(front, work_prompt("d.safetensors", "keep", steps=20, delay=0.05), "carol"))["prompt_id"]
    await next_message(ws, "progress", stop)
    response = await front.post("/interrupt", json={"prompt_id": stop})
    assert (await response.json())["result"] == "interrupted"
    await messages_until_done(ws, {stop, keep})
    stopped, kept = await history(front, stop), await history(front, keep)
    assert [k for k, _ in stopped["status"]["messages"]][-1] == "execution_interrupted"
    assert kept["status"]["status_str"] == "success"
    assert started_on(stopped) != started_on(kept)
    await ws.close()


async def test_a_global_interrupt_stops_the_prompts_on_every_worker(front):
    ws = await front.ws_connect("/ws?clientId=erin")
    ids = [(await submit(front, work_prompt(f"{m}.safetensors", f"all-{m}", steps=200), "erin"))["prompt_id"]
           for m in ("f", "g")]
    for prompt_id in ids:
        await next_message(ws, "progress", prompt_id)
    again = await front.ws_connect("/ws?clientId=erin")  # a reconnecting client learns where both prompts are
    first = [json.loads((await again.receive()).data) for _ in range(5)]
    assert {m["data"]["prompt_id"] for m in first if m["type"] == "executing"} == set(ids)
    await again.close()
    assert (await (await front.post("/interrupt", json={})).json())["result"] == "interrupted"
    await messages_until_done(ws, set(ids))
    entries = [await history(front, p) for p in ids]
    assert {started_on(e)[0] for e in entries} == {"ray-1", "ray-2"}
    assert all(e["status"]["messages"][-1][0] == "execution_interrupted" for e in entries)
    await ws.close()


async def test_a_killed_worker_s_prompt_completes_on_the_other_worker(front, ray_pool):
    pool = ray_pool[2]
    ws = await front.ws_connect("/ws?clientId=dave")
    prompt_id = (await submit(front, work_prompt("e.safetensors", "killed", steps=30, delay=0.1), "dave"))["prompt_id"]
    victim = (await next_message(ws, "execution_start", prompt_id))["worker"]
    await next_message(ws, "progress", prompt_id)
    worker = next(w for w in pool.workers if w.state.name == victim)
    os.kill(worker.pid, signal.SIGKILL)

    requeued = await next_message(ws, "execution_requeued", prompt_id)
    assert requeued["worker"] == victim
    await messages_until_done(ws, {prompt_id})
    entry = await history(front, prompt_id)
    assert entry["status"]["status_str"] == "success"
    first, second = started_on(entry)
    assert first == victim and second != victim
    assert entry["outputs"]["3"]["pid"][0] != worker.pid

    for _ in range(600):  # Ray restarts the killed process; the worker rejoins the pool
        if worker.state.alive:
            break
        await asyncio.sleep(0.1)
    assert worker.state.alive
    done = await submit(front, work_prompt("e.safetensors", "after-restart"), "dave", wait=True)
    assert done["history"]["status"]["status_str"] == "success"
    await ws.close()
