"""/models/download: a workflow's missing model fetched from a local HTTP server on loopback into the right
model folder, with progress on the websocket, sha256 checked, resumed from a partial file with Range, renamed
into place only when whole, and requests that would write elsewhere, or fetch from a host not allowed, refused."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from engine.downloads import DEFAULT_HOSTS, host_allowed

PAYLOAD = bytes(range(256)) * 12_000  # ~3 MB: several chunks, so progress is reported more than once
SHA = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
async def client(make_client):
    """A server that may download from the loopback file host (as `--download-host 127.0.0.1`)."""
    return await make_client(download_hosts=(*DEFAULT_HOSTS, "127.0.0.1"))


@pytest.fixture
async def remote(tmp_path):
    """A file host on loopback serving PAYLOAD (with Range support) and recording the Range headers it got."""
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "model.safetensors").write_bytes(PAYLOAD)
    ranges: list[str | None] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        ranges.append(request.headers.get("Range"))
        return web.FileResponse(tmp_path / "host" / "model.safetensors")

    async def serve_whole(request: web.Request) -> web.Response:
        ranges.append(request.headers.get("Range"))
        return web.Response(body=PAYLOAD)  # a host that ignores Range

    app = web.Application()
    app.router.add_get("/files/model.safetensors", serve)
    app.router.add_get("/whole/model.safetensors", serve_whole)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/files/model.safetensors")), ranges
    await server.close()


async def _finished(client, download_id: str) -> dict:
    for _ in range(400):
        states = {s["id"]: s for s in await (await client.get("/models/downloads")).json()}
        if states[download_id]["status"] != "downloading":
            return states[download_id]
        await asyncio.sleep(0.05)
    raise AssertionError("download did not finish")


def _checkpoints(tmp_path):
    return tmp_path / "models" / "checkpoints"


async def test_download_lands_whole_in_the_model_folder_with_progress_on_the_websocket(client, remote, tmp_path):
    url, ranges = remote
    ws = await client.ws_connect("/ws?clientId=downloader")
    res = await client.post("/api/models/download", json={"url": url, "directory": "checkpoints",
                                                          "name": "sd15.safetensors", "sha256": SHA})
    assert res.status == 202
    started = await res.json()
    events = []
    while not events or events[-1]["status"] == "downloading":
        message = await ws.receive_json(timeout=30)
        if message["type"] == "loom.download":
            events.append(message["data"])
    assert events[-1]["downloaded"] == events[-1]["total"] == len(PAYLOAD)
    assert events[-1]["status"] == "done" and events[-1]["id"] == started["id"]
    assert (_checkpoints(tmp_path) / "sd15.safetensors").read_bytes() == PAYLOAD
    assert sorted(p.name for p in _checkpoints(tmp_path).iterdir()) == ["sd15.safetensors"]
    assert ranges == [None]
    again = await client.post("/models/download", json={"url": url, "directory": "checkpoints", "name": "sd15.safetensors"})
    assert (await again.json())["status"] == "exists"
    await ws.close()


async def test_a_partial_file_is_resumed_with_a_range_request(client, remote, tmp_path):
    url, ranges = remote
    _checkpoints(tmp_path).mkdir(parents=True)
    (_checkpoints(tmp_path) / "sd15.safetensors.part").write_bytes(PAYLOAD[:1_000_000])
    res = await client.post("/models/download", json={"url": url, "directory": "checkpoints",
                                                      "name": "sd15.safetensors", "sha256": SHA})
    state = await _finished(client, (await res.json())["id"])
    assert state["status"] == "done", state
    assert ranges == ["bytes=1000000-"]
    assert (_checkpoints(tmp_path) / "sd15.safetensors").read_bytes() == PAYLOAD


async def test_a_host_ignoring_range_restarts_the_file_from_the_beginning(client, remote, tmp_path):
    url, ranges = remote
    _checkpoints(tmp_path).mkdir(parents=True)
    (_checkpoints(tmp_path) / "sd15.safetensors.part").write_bytes(b"stale bytes from another file")
    res = await client.post("/models/download", json={"url": url.replace("/files/", "/whole/"),
                                                      "directory": "checkpoints", "name": "sd15.safetensors"})
    state = await _finished(client, (await res.json())["id"])
    assert state["status"] == "done", state
    assert ranges == ["bytes=29-"]
    assert (_checkpoints(tmp_path) / "sd15.safetensors").read_bytes() == PAYLOAD


async def test_a_wrong_sha256_leaves_no_model_file(client, remote, tmp_path):
    url, _ = remote
    res = await client.post("/models/download", json={"url": url, "directory": "loras", "name": "x.safetensors",
                                                      "sha256": "0" * 64})
    state = await _finished(client, (await res.json())["id"])
    assert state["status"] == "error" and "sha256" in state["error"]
    assert list((tmp_path / "models" / "loras").glob("x.safetensors*")) == []


async def test_an_http_error_is_reported(client, remote, tmp_path):
    url, _ = remote
    res = await client.post("/models/download", json={"url": url + "-gone", "directory": "vae", "name": "v.safetensors"})
    state = await _finished(client, (await res.json())["id"])
    assert state["status"] == "error" and "404" in state["error"]


@pytest.mark.parametrize(("directory", "name", "url"), [
    ("checkpoints", "../escape.safetensors", None),
    ("checkpoints", "a/../../escape.safetensors", None),
    ("checkpoints", "/tmp/escape.safetensors", None),
    ("checkpoints", "..\\escape.safetensors", None),
    ("checkpoints", "nul\0.safetensors", None),
    ("../..", "escape.safetensors", None),
    ("no_such_folder", "escape.safetensors", None),
    ("checkpoints", "ok.safetensors", "file:///etc/passwd"),
])
async def test_requests_that_would_write_elsewhere_are_refused(client, remote, tmp_path, directory, name, url):
    res = await client.post("/models/download", json={"url": url or remote[0], "directory": directory, "name": name})
    assert res.status == 400
    assert list(tmp_path.rglob("escape.safetensors*")) == [] and list(tmp_path.rglob("ok.safetensors*")) == []
    assert remote[1] == []


async def test_a_host_not_allowed_is_refused_by_default_naming_the_flag(make_client, remote, tmp_path):
    """A request may not make the server fetch from anywhere: by default only Hugging Face and Civitai."""
    client = await make_client()
    res = await client.post("/models/download", json={"url": remote[0], "directory": "checkpoints",
                                                      "name": "ok.safetensors"})
    assert res.status == 400
    text = await res.text()
    assert "'127.0.0.1' is not a download host" in text and "huggingface.co" in text and "--download-host" in text
    assert remote[1] == [] and list(tmp_path.rglob("ok.safetensors*")) == []


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://huggingface.co/org/repo/resolve/main/model.safetensors", True),
    ("https://HuggingFace.co./org/model.safetensors", True),
    ("https://cdn-lfs.huggingface.co/repos/model.safetensors", True),
    ("https://civitai.com/api/download/models/12345", True),
    ("https://huggingface.co.evil.example/model.safetensors", False),
    ("https://evilhuggingface.co/model.safetensors", False),
    ("https://user@evil.example/huggingface.co/model.safetensors", False),
    ("http://127.0.0.1:8188/model.safetensors", False),
    ("https://evil.example\\.huggingface.co/model.safetensors", False),
])
def test_the_url_host_must_be_a_listed_host_or_its_subdomain(url, allowed):
    assert host_allowed(url, DEFAULT_HOSTS) is allowed
    assert host_allowed(url, ("*",))
