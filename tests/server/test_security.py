"""Refusals: path traversal on every file route, foreign origins, missing tokens, bad bodies."""

from __future__ import annotations

import os

import pytest
from aiohttp import FormData, WSServerHandshakeError
from PIL import Image

from engine.paths import Folders
from tests.server.helpers import png_bytes, raw_get, show_prompt
from web.files import delete_output_files

TRAVERSAL_QUERIES = [
    "filename=../secret.txt&type=output",
    "filename=..%2Fsecret.txt&type=output",
    "filename=%2e%2e%2fsecret.txt&type=output",
    "filename=%2E%2E/secret.txt&type=output",
    "filename=secret.txt&subfolder=..&type=output",
    "filename=secret.txt&subfolder=%2e%2e&type=output",
    "filename=secret.txt&subfolder=a/../..&type=output",
    "filename=/etc/passwd&type=output",
    "filename=passwd&subfolder=/etc&type=output",
    "filename=..\\secret.txt&type=output",
    "filename=x.png%00.txt&type=output",
    "filename=secret.txt&type=../output",
    "filename=link/secret.txt&type=output",
    "filename=secret.txt&subfolder=link&type=output",
]


@pytest.fixture
def outside(tmp_path):
    """A secret next to the roots, and a symlink from the output folder pointing at its folder."""
    secret_dir = tmp_path / "elsewhere"
    secret_dir.mkdir()
    (secret_dir / "secret.txt").write_text("top secret")
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "output").mkdir(exist_ok=True)
    os.symlink(secret_dir, tmp_path / "output" / "link")
    return secret_dir


@pytest.mark.parametrize("query", TRAVERSAL_QUERIES)
async def test_view_and_delete_refuse_traversal(client, outside, query):
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"/view?{query}")
        assert response.status in (400, 403), (method, query, response.status)
        assert "top secret" not in await response.text()
    status, data = await raw_get(client, f"/view?{query}")
    assert status in (400, 403) and b"top secret" not in data
    assert (outside / "secret.txt").read_text() == "top secret"
    assert (outside.parent / "secret.txt").exists()


@pytest.mark.parametrize("subfolder", ["..", "../..", "/tmp", "a/../../..", "link", "x\x00y"])
async def test_upload_refuses_traversal_and_writes_nothing(client, outside, tmp_path, subfolder):
    before = sorted(p for p in tmp_path.rglob("*"))
    form = FormData()
    form.add_field("image", png_bytes(), filename="evil.png", content_type="image/png")
    form.add_field("subfolder", subfolder)
    form.add_field("type", "output")  # where the symlink out lives
    response = await client.post("/upload/image", data=form)
    assert response.status in (400, 403)
    assert sorted(p for p in tmp_path.rglob("*")) == before


async def test_upload_filename_with_path_cannot_escape(client, tmp_path):
    boundary = "loomtestboundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="../../evil.png"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + png_bytes() + f"\r\n--{boundary}--\r\n".encode()
    response = await client.post("/upload/image", data=body,
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status == 403
    assert not list(tmp_path.parent.glob("evil.png")) and not list(tmp_path.rglob("evil.png"))


async def test_mask_original_ref_is_checked_too(client, outside):
    form = FormData()
    form.add_field("image", png_bytes(), filename="mask.png", content_type="image/png")
    form.add_field("original_ref", '{"filename": "secret.txt", "subfolder": "../elsewhere"}')
    assert (await client.post("/upload/mask", data=form)).status == 403


async def test_foreign_origin_is_refused_unless_allowed(make_client):
    plain = await make_client()
    evil = {"Origin": "http://evil.example"}
    assert (await plain.get("/queue", headers=evil)).status == 403
    assert (await plain.post("/prompt", json={"prompt": show_prompt()}, headers=evil)).status == 403
    own = {"Origin": f"http://{plain.host}:{plain.port}"}
    assert (await plain.get("/queue", headers=own)).status == 200
    assert (await plain.get("/queue")).status == 200
    with pytest.raises(WSServerHandshakeError) as refused:
        await plain.ws_connect("/ws", headers=evil)
    assert refused.value.status == 403
    allowing = await make_client(allow_origins=("http://evil.example",))
    response = await allowing.get("/queue", headers=evil)
    assert response.status == 200 and response.headers["Access-Control-Allow-Origin"] == "http://evil.example"
    preflight = await allowing.options("/prompt", headers={**evil, "Access-Control-Request-Method": "POST"})
    assert preflight.status == 200 and "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert (await plain.options("/prompt", headers=evil)).status == 403


async def test_token_is_required_on_routes_and_websocket(make_client):
    client = await make_client(auth_token="s3cret")
    assert (await client.get("/queue")).status == 401
    assert (await client.get("/api/object_info")).status == 401
    assert (await client.get("/queue", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.post("/prompt?token=s3cret", json={"prompt": show_prompt()})).status == 401
    assert (await client.get("/queue", headers={"Authorization": "Bearer s3cret"})).status == 200
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws?clientId=x")
    assert refused.value.status == 401
    assert (await client.get("/queue?token=s3cret")).status == 200  # also sets the page's cookie
    assert (await client.get("/queue")).status == 200
    client.session.cookie_jar.clear()
    ws = await client.ws_connect("/ws?clientId=x&token=s3cret")
    assert (await ws.receive_json())["type"] == "status"
    await ws.close()


async def test_malformed_bodies_are_400_naming_the_field(client):
    cases = [({"prompt": show_prompt(), "front": "sideways"}, "front"),
             ({"prompt": show_prompt(), "client_id": 12}, "client_id"),
             ({"prompt": [1, 2]}, "prompt"),
             ({"prompt": show_prompt(), "partial_execution_targets": "4"}, "partial_execution_targets")]
    for body, field in cases:
        response = await client.post("/prompt", json=body)
        error = (await response.json())["error"]
        assert response.status == 400 and field in error["details"], (body, error)
    response = await client.post("/queue", json={"delete": "abc"})
    assert response.status == 400 and "delete" in (await response.json())["error"]["details"]
    response = await client.post("/prompt", data=b"{not json")
    assert response.status == 400 and (await response.json())["error"]["type"] == "invalid_json"
    response = await client.post("/prompt", json={"client_id": "x"})
    assert (await response.json())["error"]["type"] == "no_prompt"


async def test_uploads_over_the_size_limit_are_refused(make_client, tmp_path):
    client = await make_client(max_upload_mb=0.01)
    form = FormData()
    form.add_field("image", os.urandom(50_000), filename="big.png", content_type="image/png")
    assert (await client.post("/upload/image", data=form)).status == 413
    assert not (tmp_path / "input" / "big.png").exists()


async def test_decompression_bombs_and_non_images_are_refused(client, tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    form = FormData()
    form.add_field("image", png_bytes(size=(100, 100)), filename="bomb.png", content_type="image/png")
    response = await client.post("/upload/image", data=form)
    assert response.status == 400 and (await response.json())["error"]["type"] == "image_too_large"
    form = FormData()
    form.add_field("image", b"<script>alert(1)</script>", filename="page.html", content_type="text/html")
    assert (await client.post("/upload/image", data=form)).status == 400
    assert not (tmp_path / "input" / "bomb.png").exists() and not (tmp_path / "input" / "page.html").exists()


async def test_canvas_page_loads_without_token_but_its_data_does_not(make_client, tmp_path):
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text("<html>canvas</html>")
    (static / "assets" / "app.js").write_text("console.log(1)")
    client = await make_client(auth_token="s3cret", static_dir=static)
    assert await (await client.get("/")).text() == "<html>canvas</html>"
    assert (await client.get("/assets/app.js")).status == 200
    for path in ("/queue", "/object_info", "/view?filename=x.png", "/assetsx", "/api/queue"):
        assert (await client.get(path)).status == 401, path
    assert (await client.post("/", data=b"")).status in (401, 405)


def test_history_file_cleanup_never_leaves_output_and_temp(tmp_path):
    folders = Folders(tmp_path)
    folders.ensure()
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "input" / "x.png").write_bytes(b"upload")
    entry = {"outputs": {"1": {"images": [{"filename": "../secret.txt", "subfolder": "", "type": "output"},
                                          {"filename": "secret.txt", "subfolder": "..", "type": "temp"},
                                          {"filename": "x.png", "subfolder": "", "type": "input"}]}}}
    assert delete_output_files(folders, [entry]) == 0
    assert (tmp_path / "secret.txt").exists() and (tmp_path / "input" / "x.png").exists()
