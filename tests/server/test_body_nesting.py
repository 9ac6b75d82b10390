"""POST bodies nested more than web/bodies.MAX_DEPTH levels are refused, and only those: the fast check reads
nesting from the text, so brackets, quotes and backslashes inside strings must not count. The oracle is the
nesting of the parsed value, walked in Python."""

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
