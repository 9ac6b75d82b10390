"""/userdata and /users: the editor's saved files per user, ComfyUI's status codes, paths that try
to leave the user's folder, and concurrent writers."""

from __future__ import annotations

import asyncio
import json

import pytest

WORKFLOW = {"last_node_id": 1, "nodes": [{"id": 1, "type": "KSampler"}]}


async def _raw(client, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send `target` byte for byte (no client-side normalisation of '..' or escapes)."""
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: {client.host}:{client.port}\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    data = await reader.read()
    writer.close()
    return int(data.split(b" ", 2)[1]), data


async def _save(client, name: str, content: bytes, **query) -> tuple[int, object]:
    response = await client.post(f"/api/userdata/{name}", data=content, params=query)
    body = await response.json() if response.status == 200 else await response.text()
    return response.status, body


async def test_a_fresh_user_folder_lists_empty_workflows_no_saved_templates_or_bookmarks(client, tmp_path):
    listing = await client.get("/api/userdata", params={"dir": "workflows", "recurse": "true", "full_info": "true"})
    assert listing.status == 200 and await listing.json() == []
    templates = await client.get("/api/userdata/comfy.templates.json")
    assert templates.status == 200 and json.loads(await templates.read()) == []
    bookmarks = await client.get("/api/userdata/workflows%2F.index.json")
    assert bookmarks.status == 200 and json.loads(await bookmarks.read()) == {"favorites": []}
    css = await client.get("/api/userdata/user.css")
    assert css.status == 200 and await css.read() == b""
    users = await (await client.get("/api/users")).json()
    assert users == {"storage": "server", "migrated": True}
    assert (tmp_path / "user" / "default" / "workflows").is_dir()


async def test_saved_workflow_lists_plain_recursive_split_and_with_file_info(client, tmp_path):
    content = json.dumps(WORKFLOW).encode()
    assert await _save(client, "workflows%2Fmine%2Fportrait.json", content) == (200, "workflows/mine/portrait.json")
    await _save(client, "workflows%2Ftop.json", b"{}")

    async def listing(**query):
        response = await client.get("/userdata", params={"dir": "workflows", **query})
        assert response.status == 200
        return await response.json()

    assert await listing() == ["top.json"]
    assert await listing(recurse="true") == ["mine/portrait.json", "top.json"]
    assert await listing(recurse="true", split="true") == [["mine/portrait.json", "mine", "portrait.json"],
                                                          ["top.json", "top.json"]]
    info = (await listing(recurse="true", full_info="true"))[0]
    assert info["path"] == "mine/portrait.json" and info["size"] == len(content)
    assert info["modified"] > 0 and info["created"] > 0
    stored = tmp_path / "user" / "default" / "workflows" / "mine" / "portrait.json"
    assert json.loads(stored.read_text()) == WORKFLOW
    fetched = await client.get("/api/userdata/workflows%2Fmine%2Fportrait.json")
    assert fetched.status == 200 and json.loads(await fetched.read()) == WORKFLOW


async def test_listing_needs_an_existing_folder(client):
    assert (await client.get("/userdata")).status == 400
    assert (await client.get("/userdata", params={"dir": "nowhere"})).status == 404


async def test_overwrite_false_answers_409_and_keeps_the_first_file(client):
    assert (await _save(client, "workflows%2Fa.json", b"first", overwrite="false"))[0] == 200
    status, _ = await _save(client, "workflows%2Fa.json", b"second", overwrite="false")
    assert status == 409
    assert await (await client.get("/userdata/workflows%2Fa.json")).read() == b"first"
    status, info = await _save(client, "workflows%2Fa.json", b"third", full_info="true")
    assert status == 200 and info["path"] == "workflows/a.json" and info["size"] == 5
    assert await (await client.get("/userdata/workflows%2Fa.json")).read() == b"third"


async def test_move_renames_and_respects_overwrite_false(client, tmp_path):
    await _save(client, "workflows%2Fold.json", b"old")
    await _save(client, "workflows%2Fother.json", b"other")
    moved = await client.post("/api/userdata/workflows%2Fold.json/move/workflows%2Fnew.json")
    assert moved.status == 200 and await moved.json() == "workflows/new.json"
    folder = tmp_path / "user" / "default" / "workflows"
    assert not (folder / "old.json").exists() and (folder / "new.json").read_bytes() == b"old"
    refused = await client.post("/userdata/workflows%2Fnew.json/move/workflows%2Fother.json",
                                params={"overwrite": "false"})
    assert refused.status == 409 and (folder / "other.json").read_bytes() == b"other"
    replaced = await client.post("/userdata/workflows%2Fnew.json/move/workflows%2Fother.json",
                                 params={"full_info": "true"})
    assert replaced.status == 200 and (await replaced.json())["path"] == "workflows/other.json"
    assert (folder / "other.json").read_bytes() == b"old"
    missing = await client.post("/userdata/workflows%2Fgone.json/move/workflows%2Fx.json")
    assert missing.status == 404


async def test_delete_removes_the_file_and_a_second_delete_is_404(client):
    await _save(client, "workflows%2Fbye.json", b"{}")
    assert (await client.delete("/api/userdata/workflows%2Fbye.json")).status == 204
    assert (await client.get("/api/userdata/workflows%2Fbye.json")).status == 404
    assert (await client.delete("/api/userdata/workflows%2Fbye.json")).status == 404


ESCAPES = [
    "..%2Fsecret.txt",                      # '/' encoded, '..' plain
    "%2E%2E%2Fsecret.txt",                   # all encoded
    "%252E%252E%252Fsecret.txt",             # encoded twice
    "workflows%2F..%2F..%2Fsecret.txt",       # climbs out from a subfolder
    "%2Fetc%2Fpasswd",                       # absolute
    "%252Fetc%252Fpasswd",                   # absolute, encoded twice
    "secret%00.txt",                         # NUL byte
    "..%5Csecret.txt",                       # Windows separator
]


@pytest.mark.parametrize("name", ESCAPES)
async def test_paths_leaving_the_user_folder_are_refused_for_every_verb(client, tmp_path, name):
    secret = tmp_path / "user" / "secret.txt"
    secret.write_text("queue database neighbour")
    await client.get("/userdata", params={"dir": "workflows"})  # creates user/default
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for method, target in [("GET", f"/userdata/{name}"), ("POST", f"/userdata/{name}"),
                           ("DELETE", f"/api/userdata/{name}"), ("GET", f"/userdata?dir={name}"),
                           ("POST", f"/userdata/{name}/move/workflows%2Fstolen.json"),
                           ("POST", f"/userdata/user.css/move/{name}"), ("GET", f"/v2/userdata?path={name}")]:
        status, data = await _raw(client, method, target, b"overwritten")
        assert status == 403, (method, target, status)
        assert b"queue database neighbour" not in data and b"root:" not in data
    assert secret.read_text() == "queue database neighbour"
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


async def test_dot_dot_in_the_raw_url_never_reaches_a_file_outside(client, tmp_path):
    (tmp_path / "user" / "secret.txt").write_text("neighbour")
    for target in ["/userdata/../secret.txt", "/api/userdata/..%2F..%2Fuser%2Fsecret.txt", "/userdata/%2e%2e/secret.txt"]:
        status, data = await _raw(client, "GET", target)
        assert status in (403, 404) and b"neighbour" not in data, target


async def test_concurrent_writes_to_one_file_leave_one_whole_version(client, tmp_path):
    bodies = [json.dumps({"writer": i, "pad": "x" * 20_000}).encode() for i in range(24)]
    results = await asyncio.gather(*(_save(client, "workflows%2Fshared.json", body) for body in bodies))
    assert all(status == 200 for status, _ in results)
    folder = tmp_path / "user" / "default" / "workflows"
    assert (folder / "shared.json").read_bytes() in bodies
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind


async def test_concurrent_creates_with_overwrite_false_let_exactly_one_win(client, tmp_path):
    bodies = [f"writer {i}".encode() for i in range(16)]
    results = await asyncio.gather(*(_save(client, "workflows%2Fnew.json", body, overwrite="false")
                                     for body in bodies))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * 15
    winner = bodies[[status for status, _ in results].index(200)]
    assert (tmp_path / "user" / "default" / "workflows" / "new.json").read_bytes() == winner


async def test_v2_listing_puts_folders_first_with_paths_from_the_user_root(client):
    await _save(client, "workflows%2Fb.json", b"{}")
    await _save(client, "workflows%2Fsub%2Fa.json", b"{}")
    response = await client.get("/api/v2/userdata", params={"path": "workflows"})
    entries = await response.json()
    assert [(e["type"], e["path"]) for e in entries] == [
        ("directory", "workflows/sub"), ("file", "workflows/.index.json"), ("file", "workflows/sub/a.json"),
        ("file", "workflows/b.json")]
    assert (await client.get("/api/v2/userdata", params={"path": "workflows/b.json"})).status == 400


async def test_adding_a_user_is_refused_in_single_user_mode(client):
    response = await client.post("/api/users", json={"username": "alice"})
    assert response.status == 400 and "single user" in (await response.json())["error"]
