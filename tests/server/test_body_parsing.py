"""POST bodies are read exactly as `json.loads` reads them (the oracle: same values, same types, integers of
any length exact), and bodies nested more than web/bodies.MAX_DEPTH levels are refused, and only those: the
fast check reads nesting from the text, so brackets, quotes and backslashes inside strings must not count
(oracle: the nesting of the parsed value, walked in Python)."""

from __future__ import annotations

import json
import random

import pytest

from web.bodies import MAX_DEPTH, BodyError, loads_strict

TRICKY = ["[", "]", "{", "}", '"', "\\", "\\\\", '\\"', '""', "[[", "]]", "é", "\n", "a", ""]


def depth(value) -> int:
    """Levels of arrays/objects: 0 for a scalar, 1 for [1], 2 for [[1]]."""
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


def random_value(rng: random.Random, levels: int):
    """A value nested exactly `levels` deep on one branch, with tricky strings and shallow siblings."""
    text = "".join(rng.choice(TRICKY) for _ in range(rng.randint(0, 8)))
    if levels == 0:
        return rng.choice([text, 1, 2.5, None, True])
    inner = [random_value(rng, levels - 1)] + [random_value(rng, rng.randint(0, min(2, levels - 1)))
                                              for _ in range(rng.randint(0, 2))]
    rng.shuffle(inner)
    if rng.random() < 0.5:
        return inner
    return {text + str(i): item for i, item in enumerate(inner)}


def accepted(raw: bytes) -> bool:
    try:
        loads_strict(raw)
    except BodyError as exc:
        assert "nested" in str(exc)
        return False
    return True


@pytest.mark.parametrize("seed", range(4))
def test_random_bodies_near_the_limit_are_refused_exactly_when_nested_too_deep(seed):
    rng = random.Random(seed)
    limit = MAX_DEPTH + 1  # the outermost container is level 1
    for _ in range(60):
        value = random_value(rng, rng.randint(limit - 3, limit + 3))
        raw = json.dumps(value, ensure_ascii=rng.random() < 0.5).encode()
        assert accepted(raw) == (depth(value) <= limit), depth(value)


def test_brackets_in_strings_are_text_not_nesting():
    value = {"prompt": {"7": {"class_type": "Note", "inputs": {
        "text": "[" * 500 + '\\"{' * 300 + "\\" * 7, "other": '"]]]' * 200}}}}
    assert loads_strict(json.dumps(value).encode()) == value


def test_the_limit_holds_for_utf16_bodies_too():
    assert loads_strict(json.dumps([[[1]]]).encode("utf-16")) == [[[1]]]
    with pytest.raises(BodyError, match="nested"):
        loads_strict(("[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2)).encode("utf-16"))


@pytest.mark.parametrize("text", ['"', "\\", '\\"', "x\\\\", "]["])
def test_deep_nesting_between_strings_with_escapes_is_still_refused(text):
    def between(levels: int) -> bytes:  # the outer array is one more level
        return f"[{json.dumps(text)}, {'[' * levels}{']' * levels}, {json.dumps(text)}]".encode()

    with pytest.raises(BodyError, match="nested"):
        loads_strict(between(MAX_DEPTH + 1))
    assert loads_strict(between(MAX_DEPTH))[0] == text


def typed(value):
    """`value` with every number tagged by its type, so 1, 1.0 and True compare unequal."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize("seed", range(3))
def test_random_bodies_read_as_json_loads_reads_them(seed):
    rng = random.Random(seed)
    numbers = [0, -0.0, 1, -1, True, False, None, 2**53 + 1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1,
               10**25, -(10**30), 0.1, 1e-320, 1.7976931348623157e308, 123456789.123456789, 1e22]
    for _ in range(200):
        ascii_only = rng.random() < 0.5  # a lone surrogate can only be written as an escape
        texts = TRICKY + ["\u00e9", "\t"] + (["\ud800"] if ascii_only else [])
        value = {"prompt": {str(i): {"class_type": "X", "inputs": {
            "n": rng.choice(numbers) if rng.random() < 0.7 else rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-30, 30),
            "s": "".join(rng.choice(texts) for _ in range(rng.randint(0, 5))),
            "l": ["7", rng.randint(0, 3)]}} for i in range(rng.randint(1, 5))}}
        raw = json.dumps(value, ensure_ascii=ascii_only).encode()
        assert typed(loads_strict(raw)) == typed(json.loads(raw))
