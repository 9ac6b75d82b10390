"""Suite-wide test setup: few CPU threads (the machine running the suite is shared; CI has 2 cores) and
the reference checkpoint manifests that several test folders compare against."""

import os
import sys

import pytest

from tests.reference_data import load_manifest

# Set before anything imports torch: caps the thread pools here and in the servers/CLIs tests start.
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")


def pytest_collection_finish(session: pytest.Session) -> None:
    """In this process tests run tiny models, which extra threads only slow down: one torch thread."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def manifest():
    """manifest("sd15") -> the reference key/shape manifest dict (committed under tests/data/reference)."""
    return load_manifest
