"""Model tests: the tiny-checkpoint fixture (threads and reference manifests come from tests/conftest.py)."""

from tests.fixtures.checkpoints import tiny_checkpoint  # noqa: F401  (pytest fixture)
