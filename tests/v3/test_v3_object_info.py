"""/object_info for V3 and comfy_types nodes equals what ComfyUI 0.3.64 serves for the same packs
(tests/v3/data/comfy_object_info_v3.json, recorded by tools/comfy_reference/v3_reference.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

COMFY = json.loads((Path(__file__).parent / "data" / "comfy_object_info_v3.json").read_text())


def served(entry: dict) -> dict:
    """The entry as JSON carries it (tuples become lists)."""
    return json.loads(json.dumps(entry))


@pytest.mark.parametrize("name", sorted(COMFY))
def test_object_info_entry_equals_comfyui(v3, name):
    assert served(v3.registry.object_info_for(name)) == COMFY[name]


def test_every_node_of_the_packs_is_served(v3):
    assert set(COMFY) == {n for p in v3.report.packs for n in p.nodes}
