"""Requests a hostile page or client sends: a rebound DNS name, folder-like upload names, bodies that are
too large or never finish, and nodes that try to take the worker down with them."""

from __future__ import annotations

import asyncio
import os
import stat

import aiohttp
import pytest

from launch.serve import host_names
from tests.server.helpers import png_bytes, run_and_wait, show_prompt

EVIL = {"Host": "evil.example:8188", "Origin": "http://evil.example:8188"}


async def raw_exchange(client, head: bytes, body: bytes = b"", wait: float = 15) -> bytes:
    """Send `head` and `body` on a raw connection and read what comes back until the server closes or
    `wait` seconds pass (the connection stays open from our side, as a stalling client's would)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(head + body)
    await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(4096), wait)
    finally:
        writer.close()


# ---- 1. DNS rebinding ---------------------------------------------------------------------------------
async def test_a_page_on_a_rebound_name_gets_403_on_prompt_history_and_websocket(client):
    posted = await client.post("/prompt", json={"prompt": show_prompt()}, headers=EVIL)
    assert posted.status == 403 and "evil.example" in await posted.text()
    assert (await client.get("/history", headers=EVIL)).status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers=EVIL)
    assert refused.value.status == 403
    assert (await client.get("/history", headers={"Host": f"localhost:{client.port}"})).status == 200
    assert (await client.get("/history", headers={"Host": f"[::1]:{client.port}"})).status == 200


async def test_allow_host_adds_a_name_the_server_answers_to(make_client):
    client = await make_client(host_names=("localhost", "loom.lan"))
    assert (await client.get("/history", headers={"Host": "loom.lan:8188"})).status == 200
    assert (await client.get("/history", headers={"Host": "evil.example"})).status == 403


def test_the_names_answered_follow_listen_and_allow_host():
    assert "evil.example" not in host_names(["127.0.0.1"], []) and "localhost" in host_names(["127.0.0.1"], [])
    assert "loom.lan" in host_names(["127.0.0.1"], ["Loom.lan"])
    assert "studio-box" in host_names(["studio-box"], [])
    assert len(host_names(["0.0.0.0"], [])) > 1  # every address: this machine's own names too


# ---- 3. upload names that name a folder -----------------------------------------------------------------
@pytest.mark.parametrize("route", ["/upload/image", "/upload/mask"])
@pytest.mark.parametrize("kind", ["input", "output", "temp"])
@pytest.mark.parametrize("subfolder, name", [("", "."), ("", ".."), ("", ""), ("sub", ".")])
async def test_an_upload_named_like_a_folder_is_refused_and_nothing_is_written(client, tmp_path, route, kind,
                                                                                subfolder, name):
    (tmp_path / "input" / "base.png").write_bytes(png_bytes())
    before = sorted(p.name for p in tmp_path.iterdir())
    form = aiohttp.FormData()
    form.add_field("image", png_bytes(), filename=name, content_type="image/png")
    form.add_field("type", kind)
    form.add_field("subfolder", subfolder)
    form.add_field("original_ref", '{"filename": "base.png", "type": "input"}')
    response = await client.post(route, data=form)
    assert response.status == 400, await response.text()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# ---- 4. a node that raises SystemExit or KeyboardInterrupt ---------------------------------------------------
@pytest.mark.parametrize("how, exception", [("exit", "SystemExit"), ("keyboard", "KeyboardInterrupt")])
async def test_a_node_leaving_with_a_base_exception_fails_its_prompt_and_the_worker_goes_on(client, how, exception):
    answer = await asyncio.wait_for(run_and_wait(client, {"1": {"class_type": "LoomTestExit",
                                                                "inputs": {"how": how}}}), 30)
    status = answer["history"]["status"]
    assert status["status_str"] == "error"
    [error] = [data for event, data in status["messages"] if event == "execution_error"]
    assert error["exception_type"] == exception and error["node_id"] == "1"
    after = await asyncio.wait_for(run_and_wait(client, show_prompt(2, 3)), 30)
    assert after["history"]["outputs"]["4"] == {"value": [5]}


# ---- 5. big bodies and big literals -------------------------------------------------------------------------
async def test_a_body_over_max_prompt_size_gets_413_from_its_declared_length_before_it_is_sent(make_client):
    client = await make_client(max_prompt_mb=1)
    head = (f"POST /prompt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {5 * 1024 * 1024}\r\n\r\n").encode()
    answer = await raw_exchange(client, head)  # not one byte of the body sent
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


async def test_a_chunked_body_is_cut_off_at_max_prompt_size(make_client):
    client = await make_client(max_prompt_mb=1)

    async def chunks():
        yield b'{"prompt": {"1": {"class_type": "LoomTestLength", "inputs": {"text": "'
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post("/prompt", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status == 413


async def test_a_large_literal_is_stored_once_in_history(client):
    text = "loom-literal-" + "y" * 300_000
    answer = await run_and_wait(client, {"1": {"class_type": "LoomTestLength", "inputs": {"text": text}},
                                         "2": {"class_type": "LoomTestLength", "inputs": {"text": text}}})
    assert answer["history"]["outputs"]["1"] == {"length": [len(text)]}
    stored = await (await client.get(f"/history/{answer['prompt_id']}")).text()
    assert stored.count("loom-literal-") == 2  # once per node that holds it, no further copies
    assert len(stored) < 2 * len(text) + 10_000


async def test_a_failing_node_does_not_copy_its_large_input_into_the_error(client):
    text = "loom-literal-" + "z" * 300_000
    answer = await run_and_wait(client, {"1": {"class_type": "LoomTestLength", "inputs": {"text": text, "fail": True}}})
    assert answer["history"]["status"]["status_str"] == "error"
    stored = await (await client.get(f"/history/{answer['prompt_id']}")).text()
    assert stored.count("loom-literal-") == 2  # the prompt's copy, and the error's first 1,000 characters
    assert len(stored) < len(text) + 20_000


# ---- 8. stalled bodies, file modes, paths in errors -----------------------------------------------------------
async def test_a_body_that_stops_arriving_gets_408_and_the_connection_is_closed(make_client):
    client = await make_client(body_timeout_s=0.5)
    head = (b"POST /prompt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n")
    answer = await raw_exchange(client, head, b'{"prompt": {', wait=20)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


async def test_an_upload_gets_the_mode_the_process_umask_gives(client, tmp_path):
    form = aiohttp.FormData()
    form.add_field("image", png_bytes(), filename="shared.png", content_type="image/png")
    assert (await client.post("/upload/image", data=form)).status == 200
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "input" / "shared.png").stat().st_mode) == 0o666 & ~umask


async def test_a_refused_path_is_named_by_its_folder_not_the_servers_layout(client, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-secret.png"
    outside.write_bytes(png_bytes())
    (tmp_path / "input" / "escape.png").symlink_to(outside)
    response = await client.get("/view", params={"filename": "escape.png", "type": "input"})
    text = await response.text()
    assert response.status == 403 and "input folder" in text
    assert str(tmp_path) not in text


async def test_a_node_error_names_files_by_their_folder_not_the_servers_layout(client, tmp_path):
    (tmp_path / "output" / "clash.txt").mkdir(parents=True)  # the node's open() fails with the full path
    answer = await run_and_wait(client, {"1": {"class_type": "LoomTestWriteText",
                                               "inputs": {"value": 1, "name": "clash", "subfolder": ""}}})
    [error] = [d for e, d in answer["history"]["status"]["messages"] if e == "execution_error"]
    assert "output/clash.txt" in error["exception_message"] and str(tmp_path) not in error["exception_message"]


def test_the_size_and_host_flags_reach_the_server(tmp_path):
    from launch.cli import build_parser
    from launch.serve import build_app
    from web.state import CONFIG, QUEUE

    args = build_parser().parse_args(["--base-directory", str(tmp_path), "--disable-all-custom-nodes",
                                      "--max-prompt-size", "2", "--allow-host", "Loom.LAN",
                                      "--download-host", "models.example.org"])
    app = build_app(args, tmp_path, ["127.0.0.1"])
    app[QUEUE].close()
    assert app[CONFIG].max_prompt_bytes == 2 * 1024 * 1024
    assert "loom.lan" in app[CONFIG].host_names and "localhost" in app[CONFIG].host_names
    assert app[CONFIG].download_hosts == ("huggingface.co", "civitai.com", "models.example.org")
