"""The prompt queue and history, persisted in SQLite so that a restart or a crash loses nothing.

Pending, running and finished prompts live in one database file under the user folder. A prompt
found "running" when the queue is opened was cut short by a dead process: it goes back to the
queue, or, after too many tries, into history as failed with the reason. Thread-safe: the web
handlers and the worker thread share one instance.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.json_text import dumps

# extra_data keys that carry credentials: kept in memory for the run, never written to disk or listed.
SECRET_KEYS = ("auth_token_comfy_org", "api_key_comfy_org")
# Queued items also kept in memory as they were put (prompt already parsed, submitter's validation), for the
# next ones to run; beyond this many, claim reads the item back from the database.
MAX_PREPARED = 32

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id TEXT UNIQUE NOT NULL,
    number REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    item TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id TEXT UNIQUE NOT NULL,
    entry TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass
class QueueItem:
    """One queued prompt: the ComfyUI queue tuple (number, prompt_id, prompt, extra_data, outputs)."""

    number: float
    prompt_id: str
    prompt: dict
    extra_data: dict = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    #: what the submitter already worked out about the prompt (the server: its validation), in memory only;
    #: None for an item read back from the database (after a restart the executor works it out again)
    prepared: Any = field(default=None, repr=False, compare=False)

    def as_list(self) -> list:
        """The wire form used by /queue and history ("prompt" field), secrets removed."""
        return [self.number, self.prompt_id, self.prompt, strip_secrets(self.extra_data), self.outputs]

    @classmethod
    def from_list(cls, data: list) -> QueueItem:
        number, prompt_id, prompt, extra_data, outputs = data[:5]
        return cls(number, prompt_id, prompt, extra_data or {}, list(outputs or []))


def strip_secrets(extra_data: dict) -> dict:
    """extra_data without credential keys."""
    return {k: v for k, v in extra_data.items() if k not in SECRET_KEYS}


def make_status(status_str: str, completed: bool, messages: list) -> dict:
    """History `status` object: {"status_str", "completed", "messages": [[event, data], ...]}."""
    return {"status_str": status_str, "completed": completed, "messages": messages}


class PromptQueue:
    """Priority queue (lowest number first, then arrival) with persistent history.

    `max_attempts` bounds how often one prompt may be started: a prompt that kills the process
    every time is marked failed on the restart after its last try instead of looping forever.
    """

    def __init__(self, db_path: str | Path, max_attempts: int = 3, max_history: int = 10000):
        self.path = Path(db_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_attempts = max_attempts
        self.max_history = max_history
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Commits survive a killed process (the point of this file); only a power cut may lose the last ones.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._history_count = self._db.execute("SELECT COUNT(*) FROM history").fetchone()[0]
        self._cond = threading.Condition()
        self._secrets: dict[str, dict] = {}
        self._prepared: dict[str, QueueItem] = {}
        self.paused = False
        self.recovered: list[tuple[str, str]] = self._recover()

    # ---- queue -------------------------------------------------------------------------------
    def next_number(self, front: bool = False) -> float:
        """A fresh priority number; `front` gives a negative one that sorts before every other."""
        with self._cond, self._db:
            self._db.execute(
                "INSERT INTO counters VALUES ('number', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1"
            )
            (value,) = self._db.execute("SELECT value FROM counters WHERE name = 'number'").fetchone()
        return float(-value if front else value)

    def put(self, item: QueueItem) -> None:
        """Queue `item` (its credentials are kept in memory only; the item itself too while few are pending,
        so that claim hands out this very object). Raises ValueError on a reused id."""
        with self._cond:
            if self._has(item.prompt_id):
                raise ValueError(f"prompt_id {item.prompt_id!r} is already queued or in history")
            with self._db:
                self._db.execute(
                    "INSERT INTO queue (prompt_id, number, item) VALUES (?, ?, ?)",
                    (item.prompt_id, item.number, dumps(item.as_list())),
                )
            self._keep_secrets(item)
            self._keep_prepared(item)
            self._cond.notify_all()

    def set_paused(self, paused: bool) -> None:
        """Stop (or resume) handing out prompts; the running one finishes. Not persisted: a restart resumes."""
        with self._cond:
            self.paused = paused
            self._cond.notify_all()

    def claim(self, timeout: float | None = None) -> QueueItem | None:
        """Mark the first pending prompt running and return it; wait up to `timeout` for one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                row = None if self.paused else self._db.execute(
                    "SELECT prompt_id, item FROM queue WHERE state = 'pending' ORDER BY number, seq LIMIT 1"
                ).fetchone()
                if row is not None:
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            prompt_id, text = row
            with self._db:
                self._db.execute(
                    "UPDATE queue SET state = 'running', attempts = attempts + 1 WHERE prompt_id = ?",
                    (prompt_id,),
                )
            secrets = self._secrets.pop(prompt_id, {})
            item = self._prepared.pop(prompt_id, None)
            if item is None:
                item = QueueItem.from_list(json.loads(text))
                item.extra_data.update(secrets)
            return item

    def finish(self, item: QueueItem, outputs: dict, status: dict, meta: dict | None = None) -> dict:
        """Move a running prompt into history; returns the history entry. The stored entry reuses the queue row's
        text of the prompt as queued (a large prompt is not serialised a second time)."""
        entry = {"prompt": item.as_list(), "outputs": outputs, "status": status, "meta": meta or {}}
        rest = dumps({"outputs": outputs, "status": status, "meta": meta or {}})
        with self._cond, self._db:
            row = self._db.execute("SELECT item FROM queue WHERE prompt_id = ?", (item.prompt_id,)).fetchone()
            text = f'{{"prompt": {row[0]}, {rest[1:]}' if row else dumps(entry)
            self._db.execute("DELETE FROM queue WHERE prompt_id = ?", (item.prompt_id,))
            self._add_history(item.prompt_id, text)
            self._cond.notify_all()
        return entry

    def release(self, item: QueueItem) -> None:
        """Put a running prompt back in front of the queue, not counting the try (a clean shutdown)."""
        with self._cond, self._db:
            self._db.execute(
                "UPDATE queue SET state = 'pending', attempts = MAX(0, attempts - 1) WHERE prompt_id = ?",
                (item.prompt_id,),
            )
            self._keep_secrets(item)
            self._keep_prepared(item)
            self._cond.notify_all()

    def pending(self) -> list[QueueItem]:
        return self._items("pending")

    def running(self) -> list[QueueItem]:
        return self._items("running")

    def remaining(self) -> int:
        """Pending plus running prompts (the `queue_remaining` figure)."""
        with self._cond:
            return self._db.execute("SELECT COUNT(*) FROM queue").fetchone()[0]

    def state_of(self, prompt_id: str) -> str | None:
        """'pending', 'running', 'done' or None when unknown."""
        with self._cond:
            row = self._db.execute("SELECT state FROM queue WHERE prompt_id = ?", (prompt_id,)).fetchone()
            if row:
                return row[0]
            found = self._db.execute("SELECT 1 FROM history WHERE prompt_id = ?", (prompt_id,)).fetchone()
        return "done" if found else None

    def delete(self, prompt_ids: Iterable[str]) -> int:
        """Remove pending prompts (running ones are interrupted, not deleted); returns how many."""
        ids = list(prompt_ids)
        with self._cond, self._db:
            count = self._db.executemany(
                "DELETE FROM queue WHERE prompt_id = ? AND state = 'pending'", [(i,) for i in ids]
            ).rowcount
        for prompt_id in ids:
            self._secrets.pop(prompt_id, None)
            self._prepared.pop(prompt_id, None)
        return count

    def clear(self) -> int:
        """Remove every pending prompt."""
        return self.delete([item.prompt_id for item in self.pending()])

    # ---- history -----------------------------------------------------------------------------
    def history(self, max_items: int | None = None, offset: int = -1) -> dict[str, dict]:
        """History in insertion order; `offset` counts from the oldest, negative = the last `max_items`."""
        with self._cond:
            if offset < 0 and max_items is not None:  # the newest, read backwards along the index
                rows = self._db.execute(
                    "SELECT prompt_id, entry FROM history ORDER BY seq DESC LIMIT ?", (max(0, max_items),)
                ).fetchall()[::-1]
            else:
                limit = -1 if max_items is None else max(0, max_items)
                rows = self._db.execute(
                    "SELECT prompt_id, entry FROM history ORDER BY seq LIMIT ? OFFSET ?", (limit, max(0, offset))
                ).fetchall()
        return {prompt_id: json.loads(entry) for prompt_id, entry in rows}

    def history_entry(self, prompt_id: str) -> dict | None:
        with self._cond:
            row = self._db.execute("SELECT entry FROM history WHERE prompt_id = ?", (prompt_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def delete_history(self, prompt_ids: Iterable[str]) -> None:
        with self._cond, self._db:
            deleted = self._db.executemany("DELETE FROM history WHERE prompt_id = ?", [(i,) for i in prompt_ids])
            self._history_count -= deleted.rowcount

    def clear_history(self) -> None:
        with self._cond, self._db:
            self._db.execute("DELETE FROM history")
            self._history_count = 0

    def close(self) -> None:
        with self._cond:
            self._db.close()

    # ---- internals ---------------------------------------------------------------------------
    def _keep_secrets(self, item: QueueItem) -> None:
        """Hold `item`'s credentials in memory until it is claimed (they never reach the database)."""
        secrets = {k: item.extra_data[k] for k in SECRET_KEYS if k in item.extra_data}
        if secrets:
            self._secrets[item.prompt_id] = secrets

    def _keep_prepared(self, item: QueueItem) -> None:
        if len(self._prepared) < MAX_PREPARED:
            self._prepared[item.prompt_id] = item

    def _has(self, prompt_id: str) -> bool:
        query = "SELECT 1 FROM queue WHERE prompt_id = ? UNION ALL SELECT 1 FROM history WHERE prompt_id = ?"
        return self._db.execute(query, (prompt_id, prompt_id)).fetchone() is not None

    def _items(self, state: str) -> list[QueueItem]:
        with self._cond:
            rows = self._db.execute(
                "SELECT item FROM queue WHERE state = ? ORDER BY number, seq", (state,)
            ).fetchall()
        return [QueueItem.from_list(json.loads(text)) for (text,) in rows]

    def _add_history(self, prompt_id: str, entry: str) -> None:
        """Store `entry` (JSON text), then drop the oldest entries beyond max_history: a walk of the primary-key index
        over the few rows removed, whatever the history's size (the row count is kept in memory)."""
        if self._db.execute("SELECT 1 FROM history WHERE prompt_id = ?", (prompt_id,)).fetchone() is None:
            self._history_count += 1
        self._db.execute(
            "INSERT OR REPLACE INTO history (prompt_id, entry) VALUES (?, ?)", (prompt_id, entry)
        )
        excess = self._history_count - self.max_history
        if excess > 0:
            self._db.execute("DELETE FROM history WHERE seq IN (SELECT seq FROM history ORDER BY seq LIMIT ?)",
                             (excess,))
            self._history_count -= excess

    def _recover(self) -> list[tuple[str, str]]:
        """Deal with prompts a dead process left running: re-queue them, or fail them after too many tries."""
        actions = []
        with self._cond, self._db:
            rows = self._db.execute(
                "SELECT prompt_id, attempts, item FROM queue WHERE state = 'running' ORDER BY seq"
            ).fetchall()
            for prompt_id, attempts, text in rows:
                if attempts < self.max_attempts:
                    self._db.execute("UPDATE queue SET state = 'pending' WHERE prompt_id = ?", (prompt_id,))
                    actions.append((prompt_id, "requeued"))
                    continue
                reason = (
                    f"the server stopped while this prompt was running, {attempts} times "
                    f"(limit {self.max_attempts}); not started again"
                )
                message = {"prompt_id": prompt_id, "exception_message": reason,
                           "exception_type": "ServerStopped", "timestamp": int(time.time() * 1000)}
                entry = {"prompt": json.loads(text), "outputs": {}, "meta": {},
                         "status": make_status("error", False, [["execution_error", message]])}
                self._db.execute("DELETE FROM queue WHERE prompt_id = ?", (prompt_id,))
                self._add_history(prompt_id, dumps(entry))
                actions.append((prompt_id, "failed"))
        return actions
