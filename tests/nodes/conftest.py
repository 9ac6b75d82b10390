"""Helpers for node tests: a Folders in tmp_path and a way to run one node with a real context."""

import pytest

from engine.graph.context import ExecutionContext, Services
from engine.paths import Folders


@pytest.fixture
def folders(tmp_path):
    f = Folders(tmp_path)
    f.ensure()
    return f


@pytest.fixture
def run_node(folders):
    """run_node(NodeClass, prompt=None, extra_pnginfo=None, **inputs) -> the node's raw result."""

    def run(cls, prompt=None, extra_pnginfo=None, settings=None, **inputs):
        ctx = ExecutionContext("1", "test-prompt", prompt or {}, Services(folders=folders, settings=settings or {}),
                               extra_data={"extra_pnginfo": extra_pnginfo} if extra_pnginfo else None)
        return cls.model_construct(**inputs).run(ctx)

    return run
