"""Output cache keyed by input signature, with the classic (keep last run), LRU and none policies.

Entries are measurable (`entry_nbytes`) and droppable (`drop`, `evict_lru`) so the model manager can add
eviction under memory pressure without the graph runtime knowing about tensors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(slots=True)
class CacheEntry:
    """One node's outputs (a list of items per output slot) and its UI dict."""

    outputs: list[list[Any]]
    ui: dict | None
    class_type: str
    last_used: int = 0


@dataclass(frozen=True)
class CachePolicy:
    """classic: keep what the last prompt used (default); lru: up to `size` entries across prompts; none."""

    kind: Literal["classic", "lru", "none"] = "classic"
    size: int = 0

    @classmethod
    def classic(cls) -> CachePolicy:
        return cls("classic")

    @classmethod
    def lru(cls, size: int) -> CachePolicy:
        return cls("lru", max(0, int(size)))

    @classmethod
    def none(cls) -> CachePolicy:
        return cls("none")


def default_nbytes(value: Any) -> int:
    """Bytes held by array-like leaves (anything with an integer `nbytes`) inside lists, tuples and dicts."""
    total, stack, seen = 0, [value], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        size = getattr(item, "nbytes", None)
        if isinstance(size, int):
            total += size
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return total


class OutputCache:
    """Signature -> CacheEntry under one CachePolicy. Not thread-safe: one executor runs one prompt at a time."""

    def __init__(self, policy: CachePolicy | None = None):
        self.policy = policy or CachePolicy.classic()
        self._entries: dict[bytes, CacheEntry] = {}
        self.generation = 0
        #: called as listener(cache, key, entry) after each store, e.g. to evict under memory pressure
        self.put_listeners: list[Callable[[OutputCache, bytes, CacheEntry], None]] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: bytes) -> bool:
        return key in self._entries

    def get(self, key: bytes) -> CacheEntry | None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_used = self.generation
        return entry

    def put(self, key: bytes, entry: CacheEntry) -> None:
        if self.policy.kind == "none":
            return
        entry.last_used = self.generation
        self._entries[key] = entry
        for listener in self.put_listeners:
            listener(self, key, entry)

    def begin_prompt(self, keys_in_use: Iterable[bytes]) -> None:
        """Start a prompt whose nodes have these signatures; classic drops every other entry."""
        self.generation += 1
        keys = set(keys_in_use)
        if self.policy.kind == "none":
            self._entries.clear()
        elif self.policy.kind == "classic":
            self._entries = {k: e for k, e in self._entries.items() if k in keys}
        for key in keys & self._entries.keys():
            self._entries[key].last_used = self.generation

    def mark_used(self, key: bytes) -> None:
        """Keep an entry for this prompt (nodes created at run time by expansion)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.last_used = self.generation

    def end_prompt(self) -> None:
        """LRU: trim to `size` entries, never dropping those the prompt just used."""
        if self.policy.kind == "lru":
            self.evict_lru(len(self._entries) - self.policy.size, keep_current=True)

    def evict_lru(self, count: int, keep_current: bool = True) -> int:
        """Drop up to `count` least recently used entries; returns how many were dropped."""
        candidates = sorted(
            (e.last_used, k) for k, e in self._entries.items()
            if not (keep_current and e.last_used == self.generation)
        )
        dropped = 0
        for _, key in candidates[:max(0, count)]:
            del self._entries[key]
            dropped += 1
        return dropped

    def drop(self, key: bytes) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def entries(self) -> Iterator[tuple[bytes, CacheEntry]]:
        """(signature, entry) pairs, for memory accounting and eviction by the model manager."""
        return iter(list(self._entries.items()))

    def nbytes(self, sizer: Callable[[Any], int] = default_nbytes) -> int:
        """Total bytes the cached outputs hold, as measured by `sizer`."""
        return sum(sizer(e.outputs) for e in self._entries.values())


def keep_under(max_bytes: int, sizer: Callable[[Any], int] = default_nbytes) -> Callable:
    """A put listener that evicts least recently used entries (never the newest) while over `max_bytes`."""

    def listener(cache: OutputCache, key: bytes, entry: CacheEntry) -> None:
        while cache.nbytes(sizer) > max_bytes and len(cache) > 1:
            cache.drop(min((e.last_used, k) for k, e in cache.entries() if k != key)[1])

    return listener
