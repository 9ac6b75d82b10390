"""Uploads, /view, file deletion, the info routes, the /api alias and the OpenAPI document."""

from __future__ import annotations

import io
import json

import numpy as np
from aiohttp import FormData
from PIL import Image
from safetensors.numpy import save_file

from tests.server.helpers import png_bytes, raw_get


async def _upload(client, data: bytes, name: str, route: str = "/upload/image", **fields) -> dict:
    form = FormData()
    form.add_field("image", data, filename=name, content_type="image/png")
    for key, value in fields.items():
        form.add_field(key, value)
    response = await client.post(route, data=form)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_upload_then_view_round_trip(client):
    data = png_bytes()
    ref = await _upload(client, data, "pic.png", subfolder="mine")
    assert ref == {"name": "pic.png", "subfolder": "mine", "type": "input"}
    response = await client.get("/view", params={"filename": "pic.png", "subfolder": "mine", "type": "input"})
    assert response.status == 200 and response.content_type == "image/png"
    assert await response.read() == data
    annotated = await client.get("/api/view", params={"filename": "pic.png [input]", "subfolder": "mine"})
    assert await annotated.read() == data


async def test_same_name_gets_a_unique_name_but_identical_content_is_reused(client, tmp_path):
    first = await _upload(client, png_bytes((1, 2, 3, 255)), "a.png")
    same = await _upload(client, png_bytes((1, 2, 3, 255)), "a.png")
    other = await _upload(client, png_bytes((9, 9, 9, 255)), "a.png")
    replaced = await _upload(client, png_bytes((7, 7, 7, 255)), "a.png", overwrite="true")
    assert [first["name"], same["name"], other["name"], replaced["name"]] == ["a.png", "a.png", "a (1).png",
                                                                             "a.png"]
    assert sorted(p.name for p in (tmp_path / "input").iterdir()) == ["a (1).png", "a.png"]


async def test_mask_alpha_is_composited_into_the_original_keeping_its_metadata(client):
    await _upload(client, png_bytes((200, 10, 10, 255), text={"workflow": "{}"}), "photo.png")
    mask = png_bytes((0, 0, 0, 0))
    ref = await _upload(client, mask, "photo-mask.png", route="/upload/mask",
                        original_ref=json.dumps({"filename": "photo.png", "type": "input", "subfolder": ""}))
    result = Image.open(io.BytesIO(await (await client.get(
        "/view", params={"filename": ref["name"], "type": "input"})).read()))
    assert result.getpixel((0, 0)) == (200, 10, 10, 0) and result.text["workflow"] == "{}"


async def test_view_converts_previews_and_channels(client):
    await _upload(client, png_bytes((10, 20, 30, 128)), "c.png")
    webp = await client.get("/view", params={"filename": "c.png", "type": "input", "preview": "webp;80"})
    assert webp.content_type == "image/webp" and Image.open(io.BytesIO(await webp.read())).format == "WEBP"
    alpha = await client.get("/view", params={"filename": "c.png", "type": "input", "channel": "a"})
    assert Image.open(io.BytesIO(await alpha.read())).getpixel((0, 0)) == 128
    missing = await client.get("/view", params={"filename": "nope.png", "type": "input"})
    assert missing.status == 404


async def test_html_and_scripts_are_served_as_downloads(client, tmp_path):
    (tmp_path / "output").mkdir(exist_ok=True)
    (tmp_path / "output" / "page.html").write_text("<script>alert(1)</script>")
    response = await client.get("/view", params={"filename": "page.html"})
    assert response.status == 200 and response.content_type == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_delete_removes_outputs_and_uploads(client, tmp_path):
    await _upload(client, png_bytes(), "gone.png")
    response = await client.delete("/view", params={"filename": "gone.png", "type": "input"})
    assert (await response.json()) == {"deleted": {"name": "gone.png", "subfolder": "", "type": "input"}}
    assert not (tmp_path / "input" / "gone.png").exists()
    assert (await client.delete("/view", params={"filename": "gone.png", "type": "input"})).status == 404


async def test_info_routes(client, tmp_path):
    stats = await (await client.get("/system_stats")).json()
    assert stats["devices"][0]["type"] in ("cpu", "cuda") and stats["system"]["python_version"]
    features = await (await client.get("/features")).json()
    assert features["max_upload_size"] == 100 * 1024 * 1024
    assert "checkpoints" in await (await client.get("/models")).json()
    (tmp_path / "models" / "embeddings").mkdir(parents=True)
    (tmp_path / "models" / "embeddings" / "style.safetensors").write_bytes(b"")
    assert await (await client.get("/embeddings")).json() == ["style"]
    assert await (await client.get("/models/embeddings")).json() == ["style.safetensors"]
    assert (await client.get("/models/nonsense")).status == 404
    info = await (await client.get("/api/object_info")).json()
    assert info["LoomTestAdd"]["input"]["required"]["a"][0] == "INT"
    assert list(await (await client.get("/object_info/LoomTestShow")).json()) == ["LoomTestShow"]
    assert await (await client.get("/extensions")).json() == []
    assert (await (await client.get("/api/prompt")).json()) == {"exec_info": {"queue_remaining": 0}}
    assert (await client.get("/")).status == 200
    assert (await client.post("/free", json={"unload_models": True})).status == 200


async def test_canvas_page_carries_its_icon_so_the_browser_asks_for_no_favicon(client):
    page = await (await client.get("/")).text()
    assert '<link rel="icon" href="data:' in page  # else every load logs a 404 for /favicon.ico


async def test_openapi_is_generated_from_the_request_models(client):
    doc = await (await client.get("/openapi.json")).json()
    post = doc["paths"]["/prompt"]["post"]
    schema_ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref == "#/components/schemas/PromptRequest"
    fields = doc["components"]["schemas"]["PromptRequest"]["properties"]
    assert {"prompt", "client_id", "prompt_id", "number", "front", "extra_data"} <= set(fields)
    assert "wait" in [p["name"] for p in post["parameters"]]
    assert {"/queue", "/history", "/history/{prompt_id}", "/view", "/upload/image", "/ws"} <= set(doc["paths"])
    assert "progress_state" in doc["paths"]["/ws"]["get"]["description"]


async def test_pack_web_directories_are_listed_and_served_without_escape(make_client, tmp_path):
    js = tmp_path / "pack_web"
    (js / "sub").mkdir(parents=True)
    (js / "sub" / "widget.js").write_text("export const x = 1;")
    (tmp_path / "secret.txt").write_text("top secret")
    client = await make_client(web_extensions={"my_pack": js})
    assert await (await client.get("/extensions")).json() == ["/extensions/my_pack/sub/widget.js"]
    served = await client.get("/extensions/my_pack/sub/widget.js")
    assert served.status == 200 and await served.text() == "export const x = 1;"
    for probe in ("/extensions/my_pack/../../secret.txt", "/extensions/my_pack/%2e%2e/%2e%2e/secret.txt",
                  "/extensions/my_pack/..%2f..%2fsecret.txt"):
        status, data = await raw_get(client, probe)
        assert status in (400, 403, 404) and b"top secret" not in data, probe


async def test_view_metadata_reads_the_safetensors_header_inside_model_folders(client, tmp_path):
    folder = tmp_path / "models" / "loras"
    folder.mkdir(parents=True)
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(folder / "style.safetensors"), metadata={"ss_name": "x"})
    response = await client.get("/view_metadata/loras", params={"filename": "style.safetensors"})
    assert await response.json() == {"ss_name": "x"}
    assert (await client.get("/view_metadata/loras", params={"filename": "none.safetensors"})).status == 404
    probe = await client.get("/view_metadata/loras", params={"filename": "../../secret.safetensors"})
    assert probe.status == 403
