"""What a client sees of a prompt over the websocket: one executing per node in order, outputs after
their node started, every node cached on a re-run, and the same stream over a compressed socket."""

from __future__ import annotations

from tests.server.helpers import chain_prompt, submit, until_done


def _of(messages: list, kind: str) -> list[dict]:
    return [m["data"] for m in messages if isinstance(m, dict) and m["type"] == kind]


async def test_each_node_starts_once_in_dependency_order_and_progress_ends_complete(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt = chain_prompt(60)
    messages = await until_done(ws, (await submit(client, prompt))["prompt_id"])
    started = [d["node"] for d in _of(messages, "executing")]
    assert started[:-1] == [str(i) for i in range(60)] + ["show"] and started[-1] is None
    kinds = [m["type"] for m in messages if m["type"] in ("executing", "executed")]
    assert kinds.index("executed") == started.index("show") + 1  # the output right after its node started
    assert _of(messages, "executed")[0]["output"] == {"value": [60]}
    states = {}
    for data in _of(messages, "progress_state"):
        states.update(data["nodes"])
    assert set(states) == set(prompt) and {s["state"] for s in states.values()} == {"finished"}
    overall = _of(messages, "progress_state")[-1]["overall"]
    assert overall["nodes_done"] == overall["nodes_total"] == 61
    await ws.close()


async def test_a_cached_rerun_lists_every_node_as_cached_runs_none_and_shows_the_output_again(client):
    ws = await client.ws_connect("/ws?clientId=c1")
    prompt = chain_prompt(40)
    await until_done(ws, (await submit(client, prompt))["prompt_id"])
    messages = await until_done(ws, (await submit(client, prompt))["prompt_id"])
    assert sorted(_of(messages, "execution_cached")[0]["nodes"]) == sorted(prompt)
    assert [d["node"] for d in _of(messages, "executing")] == [None]
    assert [(d["node"], d["output"]) for d in _of(messages, "executed")] == [("show", {"value": [40]})]
    await ws.close()


async def test_a_compressed_websocket_gets_the_same_messages(client):
    plain = await client.ws_connect("/ws?clientId=c1")
    packed = await client.ws_connect("/ws?clientId=c1", compress=15)
    prompt_id = (await submit(client, chain_prompt(30)))["prompt_id"]
    first, second = await until_done(plain, prompt_id), await until_done(packed, prompt_id)
    assert [d["node"] for d in _of(second, "executing")] == [d["node"] for d in _of(first, "executing")]
    assert _of(second, "executed") == _of(first, "executed")
    await plain.close()
    await packed.close()
