"""The server's recent log lines, for the editor's log panel (/internal/logs) and its live feed.

A logging handler keeps the last lines in memory; clients that subscribed get each new line
as a websocket `logs` message {entries: [{t, m}], size: {cols, rows}}, as ComfyUI sends them.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import logging
import shutil
from collections.abc import Callable

MAX_ENTRIES = 300


def terminal_size() -> dict[str, int]:
    size = shutil.get_terminal_size()
    return {"cols": size.columns, "rows": size.lines}


class LogBuffer(logging.Handler):
    """Keeps the last MAX_ENTRIES records as {t: ISO time, m: line}; forwards new ones to subscribers."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.entries: collections.deque[dict[str, str]] = collections.deque(maxlen=MAX_ENTRIES)
        self.subscribers: set[str] = set()
        self._forward: tuple[asyncio.AbstractEventLoop, Callable[[str, dict, str], None]] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = {"t": datetime.datetime.fromtimestamp(record.created).isoformat(), "m": self.format(record) + "\n"}
        except Exception:  # noqa: BLE001 - a record that cannot be formatted must not break the code that logged it
            self.handleError(record)
            return
        self.entries.append(entry)
        if self._forward and self.subscribers:
            loop, send = self._forward
            message = {"entries": [entry], "size": terminal_size()}
            for client_id in list(self.subscribers):
                loop.call_soon_threadsafe(send, "logs", message, client_id)

    def text(self) -> str:
        """All kept lines as one text, each prefixed by its time."""
        return "".join(f"{entry['t']} - {entry['m']}" for entry in list(self.entries))

    def forward_to(self, loop: asyncio.AbstractEventLoop | None, send: Callable[[str, dict, str], None]) -> None:
        """Deliver new lines through `send(event, data, client_id)` on `loop` (None stops)."""
        self._forward = (loop, send) if loop is not None else None
