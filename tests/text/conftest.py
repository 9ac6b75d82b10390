"""Text/vision-encoder tests: the shared tokenizer (threads and reference manifests come from tests/conftest.py)."""

import pytest

from engine.models.tokenizer import shared_tokenizer


@pytest.fixture(scope="session")
def tokenizer():
    return shared_tokenizer()
