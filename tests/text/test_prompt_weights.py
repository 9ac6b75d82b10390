"""Prompt weighting syntax and the 77-token windows a long prompt is split into."""

import pytest

from engine.models.prompt_weights import LONG_WORD, chunk_groups, parse_weights, tokenize_prompt, word_groups
from engine.models.tokenizer import END_TOKEN, START_TOKEN


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("a cat", [("a cat", 1.0)]),
        ("a (cat) sat", [("a ", 1.0), ("cat", 1.1), (" sat", 1.0)]),
        ("((cat))", [("cat", 1.1 * 1.1)]),
        ("(cat:1.5)", [("cat", 1.5)]),
        ("((cat:1.5))", [("cat", 1.5)]),  # explicit weights are absolute, as in ComfyUI
        ("[cat]", [("cat", 1 / 1.1)]),
        ("[[cat]]", [("cat", 1 / 1.1 / 1.1)]),
        ("(a (b:0.5) c)", [("a ", 1.1), ("b", 0.5), (" c", 1.1)]),
        ("(big cat:0.8), dog", [("big cat", 0.8), (", dog", 1.0)]),
        ("(cat:x)", [("cat:x", 1.1)]),
        (r"\(cat\) \[dog\]", [("(cat) [dog]", 1.0)]),
        (r"(smile \(happy\):1.3)", [("smile (happy)", 1.3)]),
        ("a (cat", [("a (cat", 1.0)]),
        ("a cat) b", [("a cat) b", 1.0)]),
        ("", []),
    ],
)
def test_weight_syntax(prompt, expected):
    parsed = parse_weights(prompt)
    assert [text for text, _ in parsed] == [text for text, _ in expected]
    assert [w for _, w in parsed] == pytest.approx([w for _, w in expected])


def test_weights_follow_tokens(tokenizer):
    (chunk,) = tokenize_prompt("a (cat:1.3) [dog]", tokenizer, pad_token=END_TOKEN)
    cat, dog = tokenizer.encode("cat")[0], tokenizer.encode("dog")[0]
    assert chunk[:5] == [
        (START_TOKEN, 1.0),
        (320, 1.0),
        (cat, 1.3),
        (dog, pytest.approx(1 / 1.1)),
        (END_TOKEN, 1.0),
    ]


@pytest.mark.parametrize("pad", [END_TOKEN, 0])
def test_short_prompt_is_one_padded_window(tokenizer, pad):
    (chunk,) = tokenize_prompt("a photo of a cat", tokenizer, pad_token=pad)
    ids = [t for t, _ in chunk]
    assert len(ids) == 77
    assert ids[:7] == [START_TOKEN, 320, 1125, 539, 320, 2368, END_TOKEN]
    assert ids[7:] == [pad] * 70


def test_empty_prompt_is_one_window(tokenizer):
    (chunk,) = tokenize_prompt("", tokenizer, pad_token=0)
    assert [t for t, _ in chunk][:3] == [START_TOKEN, END_TOKEN, 0]


def test_200_token_prompt_splits_into_windows_at_word_boundaries(tokenizer):
    word = "photorealistic"  # several tokens; must never be cut in two
    size = len(tokenizer.encode(word))
    assert 1 < size < LONG_WORD
    count = 200 // size
    chunks = tokenize_prompt(" ".join([word] * count), tokenizer, pad_token=END_TOKEN)
    per_window = 75 // size
    assert len(chunks) == -(-count // per_window)
    assert all(len(c) == 77 and c[0][0] == START_TOKEN for c in chunks)
    word_ids = tokenizer.encode(word)
    total = 0
    for chunk in chunks:
        body = [t for t, _ in chunk[1:]]
        body = body[: body.index(END_TOKEN)]
        assert body == word_ids * (len(body) // size)  # whole words only
        total += len(body) // size
    assert total == count


def test_a_very_long_word_is_split_at_the_window_edge(tokenizer):
    groups = [[(1, 1.0)] * 70, [(2, 1.0)] * 10]
    first, second = chunk_groups(groups, pad_token=0)
    assert [t for t, _ in first[71:77]] == [2, 2, 2, 2, 2, END_TOKEN]
    assert [t for t, _ in second[:7]] == [START_TOKEN, 2, 2, 2, 2, 2, END_TOKEN]


def test_short_word_moves_whole_to_next_window():
    groups = [[(1, 1.0)] * 74, [(2, 1.0)] * 3]
    first, second = chunk_groups(groups, pad_token=0)
    assert [t for t, _ in first[74:77]] == [1, END_TOKEN, 0]
    assert [t for t, _ in second[:5]] == [START_TOKEN, 2, 2, 2, END_TOKEN]


def test_words_are_split_on_whitespace_and_newlines(tokenizer):
    groups = word_groups("red\ncar  fast", tokenizer)
    assert [[t for t, _ in g] for g in groups] == [tokenizer.encode(w) for w in ("red", "car", "fast")]
