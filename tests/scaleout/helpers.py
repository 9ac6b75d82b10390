"""Prompts and websocket helpers for the scale-out tests."""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType

from tests.server.helpers import wait_history as server_wait_history


def work_prompt(model: str, tag: str, steps: int = 4, delay: float = 0.05) -> dict:
    """Load `model` -> Work (steps x delay, distinct per tag) -> Save ray_<tag>.png."""
    return {"1": {"class_type": "LoomRayLoad", "inputs": {"ckpt_name": model}},
            "2": {"class_type": "LoomRayWork", "inputs": {"model": ["1", 0], "tag": tag, "steps": steps,
                                                          "delay": delay}},
            "3": {"class_type": "LoomRaySave", "inputs": {"value": ["2", 0], "tag": tag}}}


async def submit(client, prompt: dict, client_id: str = "tests", wait: bool = False) -> dict:
    response = await client.post("/prompt" + ("?wait=true" if wait else ""),
                                 json={"prompt": prompt, "client_id": client_id})
    assert response.status == 200, await response.text()
    return await response.json()


async def messages_until_done(ws, prompt_ids: set[str], timeout: float = 90, frames: list | None = None) -> list[dict]:
    """Text messages on `ws` until every prompt in `prompt_ids` has sent its end marker (binary
    preview frames go to `frames` when given)."""
    received, waiting = [], set(prompt_ids)

    async def collect():
        async for msg in ws:
            if msg.type == WSMsgType.BINARY and frames is not None:
                frames.append(msg.data)
            if msg.type != WSMsgType.TEXT:
                continue
            message = json.loads(msg.data)
            received.append(message)
            data = message["data"]
            if message["type"] == "executing" and data.get("node") is None:
                waiting.discard(data.get("prompt_id"))
                if not waiting:
                    return

    await asyncio.wait_for(collect(), timeout)
    return received


async def next_message(ws, kind: str, prompt_id: str, timeout: float = 60) -> dict:
    """Skip messages until one of type `kind` for `prompt_id`; returns its data."""
    async def find():
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                message = json.loads(msg.data)
                if message["type"] == kind and message["data"].get("prompt_id") == prompt_id:
                    return message["data"]
        raise AssertionError(f"websocket closed before {kind} of {prompt_id}")

    return await asyncio.wait_for(find(), timeout)


async def history(client, prompt_id: str) -> dict:
    entry = await (await client.get(f"/history/{prompt_id}")).json()
    return entry[prompt_id]


def started_on(entry: dict) -> list[str]:
    """Workers named by the execution_start messages of a history entry, in order."""
    return [data["worker"] for kind, data in entry["status"]["messages"] if kind == "execution_start"]


async def wait_history(client, prompt_id: str, timeout: float = 60) -> dict:
    """The prompt's history entry once it finished (Ray workers start slowly: a longer default wait)."""
    return await server_wait_history(client, prompt_id, timeout)
