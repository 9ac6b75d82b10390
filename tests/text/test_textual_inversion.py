"""`embedding:name` in a prompt uses textual-inversion vectors from the embeddings folders."""

import logging

import pytest
import torch
from safetensors.torch import save_file

from engine.models.clip import load_clip
from tests.fixtures.text_weights import tiny_clip_l_state_dict, tiny_open_clip_state_dict

SD1 = "cond_stage_model.transformer."


@pytest.fixture(scope="module")
def weights():
    return tiny_clip_l_state_dict(SD1, seed=4)


def _cat_vector(weights, tokenizer) -> torch.Tensor:
    table = weights[SD1 + "text_model.embeddings.token_embedding.weight"]
    return table[tokenizer.encode("cat")].clone()  # [1, 32]: "kitty" will mean exactly "cat"


def _a1111_pt(path, vectors):
    torch.save(
        {"string_to_token": {"*": 265}, "string_to_param": {"*": vectors}, "name": "kitty", "step": 500}, path
    )


def _a1111_safetensors(path, vectors):
    save_file({"emb_params": vectors}, str(path))


@pytest.mark.parametrize(
    ("writer", "filename"), [(_a1111_pt, "kitty.pt"), (_a1111_safetensors, "kitty.safetensors")]
)
def test_embedding_vectors_replace_the_word(tmp_path, weights, tokenizer, writer, filename):
    writer(tmp_path / filename, _cat_vector(weights, tokenizer))
    clip = load_clip(weights, embedding_dirs=[tmp_path])
    torch.testing.assert_close(
        clip.encode_text("a embedding:kitty on a mat")[0], clip.encode_text("a cat on a mat")[0]
    )
    torch.testing.assert_close(clip.encode_text("a embedding:kitty, hi")[0], clip.encode_text("a cat, hi")[0])


def test_multi_vector_embedding_takes_one_position_per_vector_with_its_weight(tmp_path, weights, tokenizer):
    save_file({"emb_params": torch.randn(3, 32)}, str(tmp_path / "style.safetensors"))
    clip = load_clip(weights, embedding_dirs=[tmp_path])
    chunk = clip.tokenize("a (embedding:style:1.2) b")["l"][0]
    vectors = [(t, w) for t, w in chunk if isinstance(t, torch.Tensor)]
    assert len(vectors) == 3 and all(w == 1.2 for _, w in vectors)
    assert [t for t, _ in chunk[5:7]] == tokenizer.encode("b") + [49407]


def test_sdxl_embedding_gives_each_tower_its_own_vectors(tmp_path):
    sd = tiny_clip_l_state_dict("conditioner.embedders.0.transformer.", width=32, layers=1)
    sd |= tiny_open_clip_state_dict("conditioner.embedders.1.model.", width=64, layers=1)
    pair = {"clip_l": torch.randn(2, 32), "clip_g": torch.randn(2, 64)}
    (tmp_path / "sub").mkdir()
    save_file(pair, str(tmp_path / "sub" / "pair.safetensors"))
    clip = load_clip(sd, embedding_dirs=[tmp_path])
    tokens = clip.tokenize("embedding:sub/pair")
    for name, key in (("l", "clip_l"), ("g", "clip_g")):
        vectors = torch.stack([t for t, _ in tokens[name][0] if isinstance(t, torch.Tensor)])
        torch.testing.assert_close(vectors, pair[key])
    assert clip.encode(tokens)[0].shape == (1, 77, 96)


def test_missing_or_outside_embeddings_are_ignored_with_a_warning(tmp_path, weights, caplog):
    save_file({"emb_params": torch.randn(1, 32)}, str(tmp_path / "secret.safetensors"))
    inner = tmp_path / "embeddings"
    inner.mkdir()
    clip = load_clip(weights, embedding_dirs=[inner])
    with caplog.at_level(logging.WARNING):
        cond = clip.encode_text("a embedding:nothing_here cat embedding:../secret")[0]
    assert (
        "embedding:nothing_here not found" in caplog.text and "embedding:../secret not found" in caplog.text
    )
    torch.testing.assert_close(cond, clip.encode_text("a cat")[0])


def test_embedding_of_another_width_is_skipped(tmp_path, weights, caplog):
    save_file({"emb_params": torch.randn(2, 768)}, str(tmp_path / "big.safetensors"))
    clip = load_clip(weights, embedding_dirs=[tmp_path])
    with caplog.at_level(logging.WARNING):
        tokens = clip.tokenize("embedding:big cat")
    assert "no vectors of width 32" in caplog.text
    assert not any(isinstance(t, torch.Tensor) for t, _ in tokens["l"][0])
