"""A registry with Loom's V3 test packs (tests/v3/packs) loaded through the ComfyUI compatibility layer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import comfy_compat
from engine.graph.cache import CachePolicy
from engine.graph.context import Services
from engine.graph.executor import Executor
from engine.graph.packs import PackReport, load_packs
from engine.graph.registry import NodeRegistry
from engine.paths import Folders

PACKS = Path(__file__).parent / "packs"


@dataclass
class V3Packs:
    folders: Folders
    registry: NodeRegistry
    report: PackReport
    executor: Executor

    def run(self, prompt: dict, **kwargs):
        """Run `prompt`; returns (result, events)."""
        events: list = []
        kwargs.setdefault("extra_data", {"client_id": "c1", "extra_pnginfo": {"workflow": {}}})
        result = self.executor.run(prompt, "p1", events.append, **kwargs)
        return result, events

    def pack(self, name: str):
        return next(p for p in self.report.packs if p.name == name)


@pytest.fixture
def v3(tmp_path) -> V3Packs:
    folders = Folders(tmp_path)
    folders.ensure()
    registry = NodeRegistry(Services(folders=folders))
    report = load_packs(registry, [PACKS], host=comfy_compat)
    return V3Packs(folders, registry, report, Executor(registry, cache=CachePolicy.lru(64)))
