"""The engine's UI->API converter on the cases the canvas's TypeScript converter is also checked against."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.graph.ui_format import ui_to_api

CASES = sorted((Path(__file__).parent / "ui_to_api").glob("*.json"))


class _ObjectInfo:
    """Registry stand-in answering object_info_for from the case's own /object_info entries."""

    def __init__(self, object_info: dict):
        self.object_info = object_info

    def object_info_for(self, class_type: str) -> dict:
        return self.object_info[class_type]


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_engine_converter_matches_shared_case(path: Path):
    case = json.loads(path.read_text())
    assert ui_to_api(case["ui"], _ObjectInfo(case["object_info"])) == case["api"], case["description"]
