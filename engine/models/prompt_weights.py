"""Prompt syntax: `(word:1.2)`, `(word)`, `[word]`, escapes, `embedding:name`, and 77-token chunking.

Turns a prompt into fixed-length CLIP windows of (token, weight) pairs, where a token is a vocabulary
id or a textual-inversion vector, following ComfyUI's conventions (explicit weights are absolute).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from engine.models.tokenizer import END_TOKEN, START_TOKEN, CLIPTokenizer

UP, DOWN = 1.1, 1 / 1.1
EMBEDDING_PREFIX = "embedding:"
CONTEXT_LENGTH = 77
LONG_WORD = 8  # a word of this many tokens may be split across windows; shorter ones move whole

Token = int | torch.Tensor
WeightedToken = tuple[Token, float]
Chunk = list[WeightedToken]

_log = logging.getLogger(__name__)
_CLOSERS = {"(": ")", "[": "]"}
_ESCAPABLE = "()[]\\"


@dataclass
class _Group:
    opener: str
    parts: list = field(default_factory=list)


def _parse_tree(text: str) -> list:
    """Nest bracket groups; escaped brackets and brackets that never close stay literal text."""
    stack = [_Group("")]
    literal: list[str] = []

    def flush() -> None:
        if literal:
            stack[-1].parts.append("".join(literal))
            literal.clear()

    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            literal.append(text[i + 1])
            i += 2
            continue
        if char in _CLOSERS:
            flush()
            stack.append(_Group(char))
        elif len(stack) > 1 and char == _CLOSERS[stack[-1].opener]:
            flush()
            group = stack.pop()
            stack[-1].parts.append(group)
        else:
            literal.append(char)
        i += 1
    flush()
    while len(stack) > 1:  # unclosed: the opener was literal text
        group = stack.pop()
        stack[-1].parts.extend([group.opener, *group.parts])
    return stack[0].parts


def _explicit_weight(parts: list) -> tuple[list, float | None]:
    """Split a trailing `:number` off a parenthesised group's text, if there is one."""
    if not parts or not isinstance(parts[-1], str) or ":" not in parts[-1]:
        return parts, None
    text, _, number = parts[-1].rpartition(":")
    try:
        weight = float(number)
    except ValueError:
        return parts, None
    return [*parts[:-1], text], weight


def _flatten(parts: list, weight: float, out: list[tuple[str, float]]) -> None:
    for part in parts:
        if isinstance(part, str):
            out.append((part, weight))
        elif part.opener == "[":
            _flatten(part.parts, weight * DOWN, out)
        else:
            inner, explicit = _explicit_weight(part.parts)
            _flatten(inner, weight * UP if explicit is None else explicit, out)


def parse_weights(text: str) -> list[tuple[str, float]]:
    """Prompt -> [(text, weight)]: `(x)` multiplies by 1.1 per level, `[x]` divides by 1.1, `(x:w)` sets w."""
    flat: list[tuple[str, float]] = []
    _flatten(_parse_tree(text), 1.0, flat)
    merged: list[tuple[str, float]] = []
    for segment, weight in flat:
        if merged and merged[-1][1] == weight:
            merged[-1] = (merged[-1][0] + segment, weight)
        elif segment:
            merged.append((segment, weight))
    return [(segment, weight) for segment, weight in merged if segment]


EmbeddingLookup = Callable[[str], "torch.Tensor | None"]


def _embedding_vectors(name: str, lookup: EmbeddingLookup) -> tuple[torch.Tensor | None, str]:
    """Vectors for `embedding:name`, retrying without trailing commas; returns (vectors, leftover text)."""
    vectors = lookup(name)
    stripped = name.rstrip(",")
    if vectors is None and stripped != name and stripped:
        return lookup(stripped), name[len(stripped) :]
    return vectors, ""


def word_groups(
    text: str, tokenizer: CLIPTokenizer, lookup: EmbeddingLookup | None = None
) -> list[list[WeightedToken]]:
    """One list of weighted tokens per whitespace-separated word (an embedding counts as a word)."""
    groups: list[list[WeightedToken]] = []
    for segment, weight in parse_weights(text):
        for word in segment.split():
            if word.startswith(EMBEDDING_PREFIX) and lookup is not None:
                name = word[len(EMBEDDING_PREFIX) :]
                vectors, word = _embedding_vectors(name, lookup)
                if vectors is None:
                    _log.warning("embedding:%s not found in the embeddings folders; ignored", name)
                else:
                    groups.append([(vector, weight) for vector in vectors])
            ids = tokenizer.encode(word) if word else []
            if ids:
                groups.append([(token, weight) for token in ids])
    return groups


def _frame(body: Chunk, pad_token: int, length: int) -> Chunk:
    chunk = [(START_TOKEN, 1.0), *body, (END_TOKEN, 1.0)]
    return chunk + [(pad_token, 1.0)] * (length - len(chunk))


def chunk_groups(
    groups: list[list[WeightedToken]], pad_token: int, length: int = CONTEXT_LENGTH
) -> list[Chunk]:
    """Pack word groups into windows of `length` (start + up to length-2 tokens + end + padding).

    A word that does not fit moves whole to the next window; words of LONG_WORD tokens or more are
    split at the window edge instead. An empty prompt gives one window.
    """
    room = length - 2
    bodies: list[Chunk] = [[]]
    for group in groups:
        while group:
            free = room - len(bodies[-1])
            if len(group) <= free:
                bodies[-1].extend(group)
                group = []
            else:
                if len(group) >= LONG_WORD:
                    bodies[-1].extend(group[:free])
                    group = group[free:]
                bodies.append([])
    return [_frame(body, pad_token, length) for body in bodies]


def empty_chunk(pad_token: int, length: int = CONTEXT_LENGTH) -> Chunk:
    """The window of an empty prompt (start, end, padding)."""
    return _frame([], pad_token, length)


def tokenize_prompt(
    text: str, tokenizer: CLIPTokenizer, pad_token: int, lookup: EmbeddingLookup | None = None
) -> list[Chunk]:
    """Prompt -> list of CLIP windows of (token id or embedding vector, weight)."""
    return chunk_groups(word_groups(text, tokenizer, lookup), pad_token)
