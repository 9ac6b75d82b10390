"""LotusConditioning: ComfyUI's interface (the parity test), and a run that says what is missing instead of
returning made-up numbers."""

import pytest

from nodes.lotus import LotusConditioning, LotusEmbeddingMissing


def test_lotus_conditioning_says_the_embedding_is_not_shipped():
    with pytest.raises(LotusEmbeddingMissing, match="LotusConditioning.*null-prompt embedding.*CLIPTextEncode"):
        LotusConditioning().run(None)
