"""Malformed bodies each get a 4xx that says what is wrong (naming the node and input where there is one),
never a 500; a valid but extreme graph (5,000 chained Reroutes) still runs."""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.server.helpers import png_bytes


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def node(inputs: str, class_type: str = '"LoomTestShow"') -> str:
    return '{"prompt": {"7": {"class_type": ' + class_type + ', "inputs": ' + inputs + "}}}"


def ui(nodes: list, links: list | str, **extra) -> str:
    return json.dumps({"prompt": {"nodes": nodes, "links": links, **extra}})


SHOW = {"id": 1, "type": "LoomTestShow", "inputs": [{"name": "value", "type": "INT", "link": 1}], "mode": 0}
CONST = {"id": 2, "type": "LoomTestConst", "outputs": [{"name": "INT", "type": "INT", "links": [1]}],
         "widgets_values": [3], "mode": 0}
SELF_NESTING = {"definitions": {"subgraphs": [{"id": "sg", "nodes": [{"id": 1, "type": "sg", "mode": 0}],
                                                "links": [], "inputs": [], "outputs": []}]}}

# (case id, raw JSON body for POST /prompt, fragments the error must contain)
PROMPT_BODIES = [
    ("deeply nested body", nested(50_000), ["nested"]),
    ("nesting inside an input", node(f'{{"value": {nested(500)}}}'), ["node 7", "value", "nested"]),
    ("integer of 5000 digits in an input", node(f'{{"value": {"9" * 5000}}}'), ["node 7", "value", "digits"]),
    ("integer of 5000 digits as priority", f'{{"prompt": {{}}, "number": {"1" * 5000}}}', ["number", "digits"]),
    ("NaN input", node('{"value": NaN}'), ["node 7", "value", "NaN"]),
    ("Infinity input", node('{"value": -Infinity}'), ["node 7", "value", "Infinity"]),
    ("float beyond range", node('{"value": 1e999}'), ["node 7", "value", "range"]),
    ("integer class_type", node('{"value": 1}', "5"), ["7", "class_type"]),
    ("list class_type", node('{"value": 1}', '["LoomTestShow"]'), ["7", "class_type"]),
    ("object class_type", node('{"value": 1}', '{"a": 1}'), ["7", "class_type"]),
    ("inputs as a list", node("[]"), ["7", "inputs"]),
    ("inputs as a string", node('"value=1"'), ["7", "inputs"]),
    ("node as a number", '{"prompt": {"7": 5}}', ["7", "class_type"]),
    ("prompt as a list", '{"prompt": []}', ["prompt"]),
    ("body as a list", "[1, 2]", ["prompt"]),
    ("body as a string", '"hello"', ["prompt"]),
    ("invalid UTF-8", b'{"prompt": "\xff\xfe"}', ["JSON"]),
    ("truncated JSON", '{"prompt": {"1": ', ["JSON"]),
    ("link index as a string", node('{"value": ["7", "0"]}'), ["7", "value"]),
    ("link to a huge output index", node(f'{{"value": ["7", {10**30}]}}'), ["7", "value"]),
    ("client_id as an object", '{"prompt": {}, "client_id": {}}', ["client_id"]),
    ("extra_data as a list", '{"prompt": {}, "extra_data": []}', ["extra_data"]),
    ("targets as numbers", '{"prompt": {}, "partial_execution_targets": [1]}', ["partial_execution_targets"]),
    ("UI nodes that are numbers", ui([5, 6], []), ["canvas"]),
    ("UI node inputs as a string", ui([{**SHOW, "inputs": "value"}, CONST], []), ["canvas"]),
    ("UI link from a slot named by a word", ui([SHOW, CONST], [[1, 2, "first", 1, 0, "INT"]]), ["canvas"]),
    ("UI node without an id", ui([{"type": "LoomTestShow"}], []), ["canvas"]),
    ("UI subgraph containing itself", ui([{"id": 1, "type": "sg", "mode": 0}], [], **SELF_NESTING), ["canvas"]),
]


@pytest.mark.parametrize("body, expected", [case[1:] for case in PROMPT_BODIES], ids=[c[0] for c in PROMPT_BODIES])
async def test_a_malformed_prompt_gets_a_4xx_that_says_where(client, body, expected):
    response = await client.post("/prompt", data=body if isinstance(body, bytes) else body.encode(),
                                 headers={"Content-Type": "application/json"})
    text = await response.text()
    assert 400 <= response.status < 500, text[:300]
    for fragment in expected:
        assert fragment in text, (fragment, text[:500])


async def test_a_chain_of_5000_reroutes_converts_and_runs(client):
    nodes = [{**CONST, "outputs": [{"name": "INT", "type": "INT", "links": [10]}]}]
    links = [[10, 2, 0, 1000, 0, "INT"]]
    for i in range(5000):
        nodes.append({"id": 1000 + i, "type": "Reroute", "mode": 0, "inputs": [{"name": "", "type": "*",
                                                                              "link": 10 + i}]})
        links.append([11 + i, 1000 + i, 0, 1001 + i if i < 4999 else 1, 0, "INT"])
    nodes.append({**SHOW, "inputs": [{"name": "value", "type": "INT", "link": 5010}]})
    response = await client.post("/prompt?wait=true", json={"prompt": {"nodes": nodes, "links": links}})
    answer = await response.json()
    assert response.status == 200, answer
    assert answer["history"]["outputs"]["1"] == {"value": [3]}


def multipart(name: bytes, content: bytes = b"x") -> bytes:
    return (b"--B\r\nContent-Disposition: form-data; name=\"image\"; filename=\"" + name + b"\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + content + b"\r\n--B--\r\n")


UPLOADS = [
    ("file name over 255 bytes", "multipart/form-data; boundary=B", multipart(b"a" * 300 + b".png", png_bytes())),
    ("NUL in the file name", "multipart/form-data; boundary=B", multipart(b"a\x00b.png", png_bytes())),
    ("body that is no multipart", "multipart/form-data; boundary=B", b"this is not multipart at all"),
    ("multipart without a boundary", "multipart/form-data", multipart(b"a.png", png_bytes())),
    ("part headers cut short", "multipart/form-data; boundary=B", b"--B\r\nContent-Disposition: form-da"),
]


@pytest.mark.parametrize("content_type, body", [c[1:] for c in UPLOADS], ids=[c[0] for c in UPLOADS])
async def test_a_malformed_upload_gets_a_4xx(client, content_type, body):
    response = await client.post("/upload/image", data=body, headers={"Content-Type": content_type})
    assert 400 <= response.status < 500, (await response.text())[:300]


async def test_a_view_of_a_name_over_255_bytes_is_a_400(client):
    response = await client.get("/view", params={"filename": "b" * 300 + ".png", "type": "input"})
    assert response.status == 400 and "255" in await response.text()


async def test_a_subfolder_over_255_bytes_in_an_upload_is_a_400(client):
    form = aiohttp.FormData()
    form.add_field("image", png_bytes(), filename="ok.png", content_type="image/png")
    form.add_field("subfolder", "s" * 300)
    assert (await client.post("/upload/image", data=form)).status == 400
