"""A registry with the ComfyUI-style test pack loaded over temporary Loom folders holding a few model files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

import comfy_compat
from engine.graph.context import Services
from engine.graph.packs import PackReport, load_packs
from engine.graph.registry import NodeRegistry
from engine.paths import Folders

PACKS = Path(__file__).parent / "packs"
BROKEN_PACKS = Path(__file__).parent / "packs_broken"


@dataclass
class Loaded:
    folders: Folders
    registry: NodeRegistry
    report: PackReport


def loaded_registry(base: Path, packs_dir: Path) -> Loaded:
    folders = Folders(base)
    folders.ensure()
    checkpoints = folders.models_dir / "checkpoints"
    (checkpoints / "sub").mkdir(parents=True)
    (checkpoints / "tiny.safetensors").write_bytes(b"x")
    (checkpoints / "sub" / "other.ckpt").write_bytes(b"x")
    (checkpoints / "notes.txt").write_text("not a model")
    registry = NodeRegistry(Services(folders=folders))
    return Loaded(folders, registry, load_packs(registry, [packs_dir], host=comfy_compat))


@pytest.fixture
def loaded(tmp_path) -> Loaded:
    return loaded_registry(tmp_path, PACKS)
