"""The reference checkpoint manifests (tensor names and shapes of real checkpoints, see
tests/data/reference/checkpoints/README.md), committed with the tests so that they always run."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path

MANIFESTS = Path(__file__).resolve().parent / "data" / "reference" / "checkpoints"


@cache
def _text(name: str) -> str:
    with gzip.open(MANIFESTS / f"{name}.json.gz", "rt", encoding="utf-8") as handle:
        return handle.read()


def load_manifest(name: str) -> dict:
    """load_manifest("sd15") -> {"tensors": {key: shape}, ...} (a fresh dict each time); a missing name
    is an error, never a skip."""
    return json.loads(_text(name))
