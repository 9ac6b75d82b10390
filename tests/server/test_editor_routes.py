"""The other routes ComfyUI's editor calls: /internal/*, /experiment/models, /i18n,
/workflow_templates, /extensions, the packaged templates and docs, /api aliases, and the log
line for a route Loom does not serve."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest


def _pack(root, name="my-pack"):
    """A node pack folder with translations, an example workflow and a web folder."""
    pack = root / "custom_nodes" / name
    (pack / "locales" / "en").mkdir(parents=True)
    (pack / "locales" / "en" / "main.json").write_text(json.dumps({"title": "Mine", "menu": {"a": "A"}}))
    (pack / "locales" / "en" / "nodeDefs.json").write_text(json.dumps({"MyNode": {"display_name": "My node"}}))
    (pack / "locales" / "fr").mkdir()
    (pack / "locales" / "fr" / "main.json").write_text(json.dumps({"title": "Le mien"}))
    (pack / "example_workflows").mkdir()
    (pack / "example_workflows" / "upscale.json").write_text(json.dumps({"nodes": []}))
    (pack / "js" / "lib").mkdir(parents=True)
    (pack / "js" / "main.js").write_text("export {}")
    (pack / "js" / "lib" / "util.js").write_text("export {}")
    return pack


@pytest.fixture
async def pack_client(make_client, tmp_path):
    pack = _pack(tmp_path)
    other = tmp_path / "custom_nodes" / "other"
    (other / "locales" / "en").mkdir(parents=True)
    (other / "locales" / "en" / "main.json").write_text(json.dumps({"menu": {"b": "B"}}))
    return await make_client(pack_folders={"my-pack": pack, "other": other}, web_extensions={"my-pack": pack / "js"})


async def test_i18n_merges_every_packs_locales_by_language(pack_client):
    translations = await (await pack_client.get("/api/i18n")).json()
    assert translations == {"en": {"title": "Mine", "menu": {"a": "A", "b": "B"},
                                   "nodeDefs": {"MyNode": {"display_name": "My node"}}},
                            "fr": {"title": "Le mien"}}


async def test_pack_example_workflows_are_listed_and_served(pack_client):
    assert await (await pack_client.get("/api/workflow_templates")).json() == {"my-pack": ["upscale"]}
    served = await pack_client.get("/api/workflow_templates/my-pack/upscale.json")
    assert served.status == 200 and json.loads(await served.read()) == {"nodes": []}


async def test_extensions_lists_pack_scripts_at_the_pack_folder_name(pack_client):
    urls = await (await pack_client.get("/api/extensions")).json()
    assert urls == ["/extensions/my-pack/lib/util.js", "/extensions/my-pack/main.js"]
    script = await pack_client.get("/extensions/my-pack/lib/util.js")
    assert script.status == 200 and await script.read() == b"export {}"


async def test_extensions_lists_the_served_editors_own_scripts_first(make_client, tmp_path):
    static = tmp_path / "editor"
    (static / "extensions" / "core").mkdir(parents=True)
    (static / "index.html").write_text("<html></html>")
    (static / "extensions" / "core" / "widgetInputs.js").write_text("export {}")
    pack = _pack(tmp_path, "ComfyUI-Some-Pack")
    client = await make_client(static_dir=static, web_extensions={"ComfyUI-Some-Pack": pack / "js"})
    urls = await (await client.get("/api/extensions")).json()
    assert urls == ["/extensions/core/widgetInputs.js", "/extensions/ComfyUI-Some-Pack/lib/util.js",
                    "/extensions/ComfyUI-Some-Pack/main.js"]
    for url in urls:
        assert (await client.get(url)).status == 200, url


async def test_a_pack_folder_named_with_spaces_and_accents_has_its_scripts_and_examples_served(make_client, tmp_path):
    """Such a folder name is percent-encoded in the URLs the editor gets, and those URLs answer."""
    name = "My Nodes é"
    pack = _pack(tmp_path, name)
    (pack / "js" / "with space.js").write_text("export const y = 2;")
    (tmp_path / "secret.js").write_text("top secret")
    (pack / "js" / "escape.js").symlink_to(tmp_path / "secret.js")  # a link out of the folder is not served
    braces = _pack(tmp_path, "odd {x}")
    client = await make_client(pack_folders={name: pack}, web_extensions={name: pack / "js", "odd {x}": braces / "js"})
    urls = await (await client.get("/api/extensions")).json()
    quoted = "/extensions/My%20Nodes%20%C3%A9"
    assert urls == [f"{quoted}/escape.js", f"{quoted}/lib/util.js", f"{quoted}/main.js", f"{quoted}/with%20space.js",
                    "/extensions/odd%20%7Bx%7D/lib/util.js", "/extensions/odd%20%7Bx%7D/main.js"]
    assert (await client.get("/extensions/odd%20%7Bx%7D/main.js")).status == 200
    script = await client.get(f"{quoted}/with%20space.js")
    assert script.status == 200 and await script.read() == b"export const y = 2;"
    assert (await client.get(f"{quoted}/escape.js")).status == 404
    assert (await client.get(f"{quoted}/missing.js")).status == 404
    example = await client.get("/api/workflow_templates/My%20Nodes%20%C3%A9/upscale.json")
    assert example.status == 200 and json.loads(await example.read()) == {"nodes": []}


async def test_file_lists_per_folder_newest_first(client, tmp_path):
    for age, name in enumerate(["new.png", "mid.png", "old.png"]):
        path = tmp_path / "output" / name
        path.write_bytes(b"x")
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))
    (tmp_path / "output" / "sub").mkdir()
    assert await (await client.get("/internal/files/output")).json() == ["new.png", "mid.png", "old.png"]
    assert await (await client.get("/api/internal/files/input")).json() == []
    refused = await client.get("/internal/files/models")
    assert refused.status == 400 and await refused.json() == {"error": "Invalid directory type"}


async def test_folder_paths_and_experiment_models_list_each_kind_with_files(client, tmp_path):
    checkpoints = tmp_path / "models" / "checkpoints"
    (checkpoints / "sd").mkdir(parents=True)
    (checkpoints / "sd" / "tiny.safetensors").write_bytes(b"12345")
    (checkpoints / "notes.txt").write_text("not a model")
    paths = await (await client.get("/internal/folder_paths")).json()
    assert paths["checkpoints"] == [str(checkpoints)]
    kinds = await (await client.get("/api/experiment/models")).json()
    assert {"name": "checkpoints", "folders": [str(checkpoints)]} in kinds
    files = await (await client.get("/api/experiment/models/checkpoints")).json()
    assert [(f["name"], f["pathIndex"], f["size"]) for f in files] == [("sd/tiny.safetensors", 0, 5)]
    assert (await client.get("/api/experiment/models/nonsense")).status == 404


async def test_internal_logs_hold_recent_server_log_lines(client):
    logging.getLogger("loom.test").warning("a line for the log panel")
    text = await (await client.get("/internal/logs")).json()
    assert "a line for the log panel" in text
    raw = await (await client.get("/internal/logs/raw")).json()
    assert any("a line for the log panel" in entry["m"] for entry in raw["entries"])
    assert set(raw["size"]) == {"cols", "rows"}


async def test_a_log_subscriber_gets_new_lines_over_its_websocket(client):
    ws = await client.ws_connect("/ws?clientId=logreader")
    await ws.receive_json()  # status
    response = await client.patch("/internal/logs/subscribe", json={"clientId": "logreader", "enabled": True})
    assert response.status == 200
    logging.getLogger("loom.test").warning("live line")
    message = await ws.receive_json(timeout=5)
    assert message["type"] == "logs" and "live line" in message["data"]["entries"][0]["m"]
    await client.patch("/internal/logs/subscribe", json={"clientId": "logreader", "enabled": False})
    await ws.close()


async def test_a_route_nobody_serves_is_logged_once_by_name(client, caplog):
    with caplog.at_level(logging.WARNING, logger="loom.server"):
        for _ in range(3):
            assert (await client.get("/api/not_a_loom_route")).status == 404
    lines = [r.getMessage() for r in caplog.records if "not_a_loom_route" in r.getMessage()]
    assert lines == ["not served by Loom: GET /api/not_a_loom_route (a route the editor or a client called)"]


async def test_user_css_at_the_root_is_an_empty_stylesheet(client):
    response = await client.get("/user.css")
    assert response.status == 200 and response.content_type == "text/css"


def _require(package: str) -> None:
    """The editor's packages come with the comfyui-frontend extra; CI installs it, so there a
    missing package is a failure."""
    if os.environ.get("CI"):
        __import__(package)
    pytest.importorskip(package)


async def test_official_templates_and_node_docs_are_served_from_their_packages(client):
    _require("comfyui_workflow_templates")
    _require("comfyui_embedded_docs")
    index = await (await client.get("/templates/index.json")).json()
    names = [t["name"] for category in index for t in category["templates"]]
    assert "default" in names
    default = await client.get("/templates/default.json")
    assert default.status == 200 and "KSampler" in await default.text()
    doc = await client.get("/docs/KSampler/en.md")
    assert doc.status == 200 and "KSampler" in await doc.text()


async def test_model_previews_come_from_a_picture_beside_the_model_or_its_metadata(client, tmp_path):
    import base64
    import io

    import numpy as np
    from PIL import Image
    from safetensors.numpy import save_file

    def png(color) -> bytes:
        out = io.BytesIO()
        Image.new("RGB", (4, 4), color).save(out, format="PNG")
        return out.getvalue()

    loras = tmp_path / "models" / "loras"
    loras.mkdir(parents=True)
    save_file({"w": np.zeros(1, np.float32)}, str(loras / "pictured.safetensors"))
    (loras / "pictured.preview.png").write_bytes(png((255, 0, 0)))
    cover = json.dumps([base64.b64encode(png((0, 0, 255))).decode()])
    save_file({"w": np.zeros(1, np.float32)}, str(loras / "covered.safetensors"), metadata={"ssmd_cover_images": cover})
    save_file({"w": np.zeros(1, np.float32)}, str(loras / "plain.safetensors"))

    async def preview(name):
        response = await client.get(f"/api/experiment/models/preview/loras/0/{name}")
        if response.status != 200:
            return response.status
        assert response.content_type == "image/webp"
        return Image.open(io.BytesIO(await response.read())).convert("RGB").getpixel((0, 0))

    def near(pixel, color):  # WEBP is lossy: a few levels off
        return max(abs(a - b) for a, b in zip(pixel, color, strict=True)) <= 4

    assert near(await preview("pictured.webp"), (255, 0, 0))
    assert near(await preview("covered.webp"), (0, 0, 255))
    assert await preview("plain.webp") == 404
    assert await preview("..%2F..%2Fsecret.webp") == 404
    assert (await client.get("/api/experiment/models/preview/loras/7/pictured.webp")).status == 404


def test_front_end_comfyui_without_the_package_names_the_extra_to_install(monkeypatch):
    from web import comfy_frontend

    monkeypatch.setattr(comfy_frontend, "package_folder", lambda package, folder: None)
    with pytest.raises(FileNotFoundError, match=r"loom-diffusion\[comfyui-frontend\]"):
        comfy_frontend.comfyui_static_dir()
