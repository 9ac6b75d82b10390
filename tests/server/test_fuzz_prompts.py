"""Fuzz: a few hundred generated malformed /prompt and /upload bodies (seeded, so a failure repeats) get
no 5xx, and afterwards the server still runs a good prompt."""

from __future__ import annotations

import asyncio
import copy
import json
import random

from tests.server.helpers import png_bytes, run_and_wait, show_prompt

SEED = 20261205
CLASSES = ["LoomTestConst", "LoomTestAdd", "LoomTestShow", "LoomTestBoom", "LoomTestLength", "LoomTestExit"]
ODD_VALUES = [None, True, -1, 0, 2**63, -(10**40), 1.5, 1e308, "", "x" * 300, "\x00", "../../etc/passwd",
              [], [None], ["1"], ["1", 0, 0], ["nope", 0], ["1", -1], ["1", 99], {}, {"__value__": [1]},
              {"a": {"b": {"c": []}}}, "[1, 0]", "🙂" * 10]


def ui_prompt() -> dict:
    return {"nodes": [{"id": 1, "type": "LoomTestShow", "mode": 0,
                       "inputs": [{"name": "value", "type": "INT", "link": 1}]},
                      {"id": 2, "type": "LoomTestConst", "mode": 0, "widgets_values": [4],
                       "outputs": [{"name": "INT", "type": "INT", "links": [1]}]}],
            "links": [[1, 2, 0, 1, 0, "INT"]]}


def containers(value, path=()):
    """Every (path, dict-or-list) inside `value`."""
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        if isinstance(child, (dict, list)):
            yield from containers(child, (*path, key))


def mutate(rng: random.Random, body: dict) -> dict:
    """One to three structural changes at random places: replace, delete, or add a key."""
    body = copy.deepcopy(body)
    for _ in range(rng.randint(1, 3)):
        _, target = rng.choice(list(containers(body)))
        keys = list(target) if isinstance(target, dict) else list(range(len(target)))
        action = rng.random()
        if keys and action < 0.6:
            target[rng.choice(keys)] = copy.deepcopy(rng.choice([*ODD_VALUES, rng.choice(CLASSES)]))
        elif keys and action < 0.8:
            del target[rng.choice(keys)]
        elif isinstance(target, dict):
            target[rng.choice(["class_type", "inputs", "nodes", "links", "9", "prompt", "number"])] = \
                copy.deepcopy(rng.choice(ODD_VALUES))
        else:
            target.append(copy.deepcopy(rng.choice(ODD_VALUES)))
    return body


def raw_variants(rng: random.Random, text: str) -> str:
    """Byte-level damage: truncation, a flipped character, or a token JSON does not allow."""
    cut = rng.randrange(1, len(text))
    return rng.choice([text[:cut], text[:cut] + "\x7f" + text[cut + 1:], text[:cut] + "NaN" + text[cut:],
                       text[:cut] + "]]]]" + text[cut:], text.replace("4", "9" * 5000, 1)])


def bodies(count: int) -> list[bytes]:
    rng = random.Random(SEED)
    valid = [{"prompt": show_prompt()}, {"prompt": ui_prompt()}, {"prompt": show_prompt(), "client_id": "f"}]
    out = []
    for i in range(count):
        mutated = json.dumps(mutate(rng, rng.choice(valid)))
        out.append((raw_variants(rng, mutated) if i % 3 == 0 else mutated).encode("utf-8", "surrogatepass"))
    return out


def uploads(count: int) -> list[tuple[str, bytes]]:
    rng = random.Random(SEED + 1)
    part = (b'--B\r\nContent-Disposition: form-data; name="image"; filename="f.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + png_bytes() + b"\r\n--B--\r\n")
    out = []
    for _ in range(count):
        cut = rng.randrange(len(part))
        damaged = rng.choice([part[:cut], part[:cut] + bytes([rng.randrange(256)]) + part[cut + 1:],
                              part.replace(b"f.png", bytes(rng.randrange(256) for _ in range(8)))])
        out.append((rng.choice(["multipart/form-data; boundary=B", "multipart/form-data", "image/png"]), damaged))
    return out


async def test_hundreds_of_malformed_bodies_get_no_5xx_and_a_good_prompt_still_runs(client):
    statuses: dict[int, int] = {}
    for body in bodies(300):
        response = await client.post("/prompt", data=body, headers={"Content-Type": "application/json"})
        assert response.status < 500, (body[:300], await response.text())
        statuses[response.status] = statuses.get(response.status, 0) + 1
    for content_type, body in uploads(60):
        response = await client.post("/upload/image", data=body, headers={"Content-Type": content_type})
        assert response.status < 500, (body[:200], await response.text())
    assert statuses.get(400, 0) > 150  # most bodies are refused, not quietly queued
    answer = await asyncio.wait_for(run_and_wait(client, show_prompt(20, 22)), 120)
    assert answer["history"]["outputs"]["4"] == {"value": [42]}
    websocket = await client.ws_connect("/ws?clientId=after-fuzz")
    assert (await websocket.receive_json())["type"] == "status"
    await websocket.close()
