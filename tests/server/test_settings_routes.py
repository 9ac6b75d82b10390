"""/settings: the editor's settings stored per user in comfy.settings.json, merged, read back, and
safe under concurrent writers."""

from __future__ import annotations

import asyncio
import json


def _settings_file(tmp_path):
    return tmp_path / "user" / "default" / "comfy.settings.json"


async def test_settings_start_empty_and_an_unset_one_reads_null(client):
    assert await (await client.get("/api/settings")).json() == {}
    assert await (await client.get("/api/settings/Comfy.Locale")).json() is None


async def test_one_setting_and_a_batch_merge_into_the_stored_file(client, tmp_path):
    assert (await client.post("/api/settings/Comfy.Locale", json="fr")).status == 200
    assert (await client.post("/settings", json={"Comfy.Sidebar.Size": "small", "Comfy.Graph.Zoom": 1.5})).status == 200
    assert (await client.post("/api/settings/Comfy.Sidebar.Size", json={"nested": [1, 2]})).status == 200
    expected = {"Comfy.Locale": "fr", "Comfy.Sidebar.Size": {"nested": [1, 2]}, "Comfy.Graph.Zoom": 1.5}
    assert await (await client.get("/settings")).json() == expected
    assert await (await client.get("/settings/Comfy.Graph.Zoom")).json() == 1.5
    assert json.loads(_settings_file(tmp_path).read_text()) == expected


async def test_concurrent_setting_writes_all_survive(client, tmp_path):
    writes = [client.post(f"/api/settings/Test.Setting{i}", json=i) for i in range(40)]
    writes += [client.post("/api/settings", json={f"Batch.{i}": f"v{i}"}) for i in range(20)]
    assert all(response.status == 200 for response in await asyncio.gather(*writes))
    stored = json.loads(_settings_file(tmp_path).read_text())
    assert {k: v for k, v in stored.items() if k.startswith("Test.")} == {f"Test.Setting{i}": i for i in range(40)}
    assert {k: v for k, v in stored.items() if k.startswith("Batch.")} == {f"Batch.{i}": f"v{i}" for i in range(20)}
    assert sorted(p.name for p in _settings_file(tmp_path).parent.glob(".*")) == []  # no temporary files left


async def test_a_corrupt_settings_file_reads_as_empty_and_is_replaced_on_the_next_write(client, tmp_path):
    await client.get("/settings")
    _settings_file(tmp_path).parent.mkdir(parents=True, exist_ok=True)
    _settings_file(tmp_path).write_text("{not json")
    assert await (await client.get("/settings")).json() == {}
    await client.post("/settings/Comfy.Locale", json="en")
    assert json.loads(_settings_file(tmp_path).read_text()) == {"Comfy.Locale": "en"}


async def test_a_body_that_is_not_json_or_not_an_object_is_refused(client):
    assert (await client.post("/settings/Comfy.Locale", data=b"{oops")).status == 400
    assert (await client.post("/settings", json=["a", "list"])).status == 400
    assert (await client.post("/settings", data=b"")).status == 400
