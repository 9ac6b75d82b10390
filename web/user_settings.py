"""The editor's settings, one JSON object per user in user/<user>/comfy.settings.json.

Every change is a read-modify-write under one lock and lands with an atomic rename, so
concurrent POSTs of different settings all survive and a reader never sees a torn file.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from web.user_files import DEFAULT_USER, UserFolders

log = logging.getLogger(__name__)
SETTINGS_FILE = "comfy.settings.json"


class UserSettings:
    """Reads and merges settings for the users of one user/ root."""

    def __init__(self, folders: UserFolders):
        self.folders = folders
        self._lock = threading.Lock()

    def read(self, user: str = DEFAULT_USER) -> dict[str, Any]:
        """All settings; {} when none are stored or the file is not a JSON object (logged)."""
        path = self.folders.path(SETTINGS_FILE, user)
        if not path.is_file():
            return {}
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            log.error("the settings file %s is not valid JSON; using defaults", path)
            return {}
        if not isinstance(settings, dict):
            log.error("the settings file %s does not hold a JSON object; using defaults", path)
            return {}
        return settings

    def update(self, changes: dict[str, Any], user: str = DEFAULT_USER) -> None:
        """Merge `changes` into the stored settings."""
        with self._lock:
            settings = {**self.read(user), **changes}
            data = json.dumps(settings, indent=4, ensure_ascii=False).encode("utf-8")
            self.folders.write(self.folders.path(SETTINGS_FILE, user), data, overwrite=True)
