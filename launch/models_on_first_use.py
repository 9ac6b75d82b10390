"""The model manager of a headless run, built the first time a node reaches for it: building it imports
torch (over a second), which a workflow of text or number nodes never needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ModelsOnFirstUse:
    """Stands in Services.models: any attribute read builds the manager with `build()` (once) and is
    answered by it."""

    def __init__(self, build: Callable[[], Any]):
        self._build = build
        self._manager: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._manager is None:
            self._manager = self._build()
        return getattr(self._manager, name)
