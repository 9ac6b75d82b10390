"""Optional tools a few tests need (a browser, an extra package): skipped on a developer's machine that
lacks them, a failure under CI (the CI variable set), where everything is installed on purpose and a
missing tool must not turn into a quietly green run."""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

import pytest

UNDER_CI = bool(os.environ.get("CI"))


def missing(reason: str) -> None:
    """Skip with `reason`, or fail with it under CI."""
    if UNDER_CI:
        pytest.fail(f"{reason} (CI is set: a missing tool is a failure)", pytrace=False)
    pytest.skip(reason)


def need_module(name: str, install: str) -> ModuleType:
    """The module `name`; when it cannot be imported, skip (or fail under CI) saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        missing(f"{name} is not installed ({install}): {exc}")
        raise


def need_file(path: Path, install: str) -> Path:
    """`path` when it exists; otherwise skip (or fail under CI) saying how to install it."""
    if not path.exists():
        missing(f"{path} is missing ({install})")
    return path
