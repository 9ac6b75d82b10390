"""CLIP's byte-level BPE tokenizer, reading the real merges file the `openai-clip` package ships.

Gives the same ids as OpenAI's tokenizer (and so as ComfyUI/transformers) without importing `clip`
(which would pull in torchvision): the file is located through the import system only.
"""

from __future__ import annotations

import functools
import gzip
import html
import importlib.util
import itertools
from pathlib import Path

import ftfy
import regex

START_TOKEN = 49406
END_TOKEN = 49407
VOCAB_SIZE = 49408
_MERGES_FILE = "bpe_simple_vocab_16e6.txt.gz"
_MERGE_COUNT = VOCAB_SIZE - 256 * 2 - 2  # the vocabulary is bytes, bytes+</w>, merges, 2 specials
_SPECIALS = ("<|startoftext|>", "<|endoftext|>")
_PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE,
)


def default_merges_path() -> Path:
    """Where the installed `openai-clip` package keeps its BPE merges (found without importing it)."""
    spec = importlib.util.find_spec("clip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the CLIP BPE vocabulary needs the `openai-clip` package installed")
    for location in spec.submodule_search_locations:
        path = Path(location) / _MERGES_FILE
        if path.is_file():
            return path
    raise FileNotFoundError(f"{_MERGES_FILE} not found in the openai-clip package")


def _byte_alphabet() -> dict[int, str]:
    """Byte -> printable unicode character, printable bytes keeping their own character (GPT-2 scheme)."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in kept}
    extra = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def clean_text(text: str) -> str:
    """ftfy repair, double HTML unescape, whitespace collapsed, lowercased (as CLIP was trained)."""
    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return regex.sub(r"\s+", " ", text).strip().lower()


class CLIPTokenizer:
    """Text -> CLIP token ids. `encode` adds no start/end tokens; `__call__` does."""

    def __init__(self, merges_path: Path | None = None) -> None:
        path = merges_path or default_merges_path()
        with gzip.open(path, "rt", encoding="utf-8") as file:
            lines = file.read().split("\n")
        merges = [tuple(line.split()) for line in lines[1 : _MERGE_COUNT + 1]]
        self.byte_alphabet = _byte_alphabet()
        symbols = list(self.byte_alphabet.values())
        vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + list(_SPECIALS)
        self.vocab: dict[str, int] = {token: i for i, token in enumerate(vocab)}
        self.merge_rank: dict[tuple[str, str], int] = {m: i for i, m in enumerate(merges)}
        self._bpe_cached = functools.lru_cache(maxsize=20000)(self._bpe)

    def _bpe(self, piece: str) -> tuple[str, ...]:
        """Merge the characters of one pre-tokenised piece by merge rank until no merge applies."""
        if piece in _SPECIALS:
            return (piece,)
        parts = [*piece[:-1], piece[-1] + "</w>"]
        while len(parts) > 1:
            pairs = set(itertools.pairwise(parts))
            best = min(pairs, key=lambda p: self.merge_rank.get(p, len(self.merge_rank)))
            if best not in self.merge_rank:
                break
            merged: list[str] = []
            i = 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(parts)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` after CLIP's cleaning, without start/end tokens."""
        ids: list[int] = []
        for piece in _PATTERN.findall(clean_text(text)):
            mapped = piece if piece in _SPECIALS else "".join(self.byte_alphabet[b] for b in piece.encode())
            ids.extend(self.vocab[token] for token in self._bpe_cached(mapped))
        return ids

    def __call__(self, text: str) -> list[int]:
        """Token ids framed by the start and end tokens (no padding, no truncation)."""
        return [START_TOKEN, *self.encode(text), END_TOKEN]


@functools.cache
def shared_tokenizer() -> CLIPTokenizer:
    """One tokenizer per process: the vocabulary is immutable and takes a moment to build."""
    return CLIPTokenizer()
