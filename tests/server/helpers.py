"""Shared pieces of the server tests: the test node pack, small prompts and images, request and
websocket helpers."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
from pathlib import Path

from aiohttp import WSMsgType
from PIL import Image, PngImagePlugin

PACKS_DIR = Path(__file__).parent / "packs"


def _test_pack():
    spec = importlib.util.spec_from_file_location("loom_test_pack", PACKS_DIR / "loom_test_pack" / "__init__.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TEST_PACK = _test_pack()


def show_prompt(value: int = 1, extra: int = 2) -> dict:
    """Const(value) + Const(extra) -> Add -> Show."""
    return {"1": {"class_type": "LoomTestConst", "inputs": {"value": value}},
            "2": {"class_type": "LoomTestConst", "inputs": {"value": extra}},
            "3": {"class_type": "LoomTestAdd", "inputs": {"a": ["1", 0], "b": ["2", 0]}},
            "4": {"class_type": "LoomTestShow", "inputs": {"value": ["3", 0]}}}


def chain_prompt(length: int) -> dict:
    """Const -> Add -> Add -> ... (length nodes in a line) -> Show."""
    prompt = {"0": {"class_type": "LoomTestConst", "inputs": {"value": 1}}}
    for i in range(1, length):
        prompt[str(i)] = {"class_type": "LoomTestAdd", "inputs": {"a": [str(i - 1), 0], "b": 1}}
    prompt["show"] = {"class_type": "LoomTestShow", "inputs": {"value": [str(length - 1), 0]}}
    return prompt


def slow_prompt(value: int = 1, steps: int = 2000, delay: float = 0.01) -> dict:
    """Slow(value) -> Show: `steps` progress steps of `delay` seconds each, then shows `value`."""
    return {"1": {"class_type": "LoomTestSlow", "inputs": {"value": value, "steps": steps, "delay": delay}},
            "2": {"class_type": "LoomTestShow", "inputs": {"value": ["1", 0]}}}


def png_bytes(color: tuple = (0, 128, 255, 255), size: tuple[int, int] = (4, 4), text: dict | None = None) -> bytes:
    """A one-colour PNG (RGBA for a 4-tuple colour, else RGB), with optional tEXt chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    Image.new("RGBA" if len(color) == 4 else "RGB", size, color).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


async def submit(client, prompt: dict, client_id: str = "c1", **fields) -> dict:
    """POST /prompt (asserting it was queued); the answer's body."""
    response = await client.post("/prompt", json={"prompt": prompt, "client_id": client_id, **fields})
    assert response.status == 200, await response.text()
    return await response.json()


async def run_and_wait(client, prompt: dict) -> dict:
    """POST /prompt?wait=true; the answer's body (its `history` is the finished entry)."""
    return await (await client.post("/prompt?wait=true", json={"prompt": prompt})).json()


async def until_progress(ws) -> None:
    """Read the websocket until the first `progress` message: a node is running."""
    async for msg in ws:
        if msg.json()["type"] == "progress":
            return


async def until_done(ws, prompt_id: str, timeout: float = 60) -> list[dict]:
    """Text messages received until `executing` with node null for `prompt_id` (binary frames as bytes)."""
    received: list = []

    async def collect():
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                received.append(msg.data)
                continue
            if msg.type != WSMsgType.TEXT:
                break
            message = json.loads(msg.data)
            received.append(message)
            data = message["data"]
            if message["type"] == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
                return

    await asyncio.wait_for(collect(), timeout)
    return received


async def wait_history(client, prompt_id: str, timeout: float = 30) -> dict:
    """Poll /history/{id} until the entry exists."""
    for _ in range(int(timeout * 20)):
        entry = await (await client.get(f"/history/{prompt_id}")).json()
        if entry:
            return entry[prompt_id]
        await asyncio.sleep(0.05)
    raise AssertionError(f"{prompt_id} never reached history")


async def raw_get(client, target: str) -> tuple[int, bytes]:
    """GET `target` byte for byte (no client-side URL normalisation); returns (status, whole response)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: {client.host}:{client.port}\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return int(data.split(b" ", 2)[1]), data
