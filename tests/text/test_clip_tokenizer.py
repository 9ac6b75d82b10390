"""The BPE tokenizer gives CLIP's real ids (checked against transformers' implementation)."""

import json

import pytest
from transformers import CLIPTokenizer as HFTokenizer

from engine.models.tokenizer import END_TOKEN, START_TOKEN, default_merges_path

SENTENCES = [
    "a photo of a cat",
    "Masterpiece, best quality, 1girl, looking at viewer!!",
    "A red car on a rainy street at night, cinematic lighting, 8k uhd",
    "it's a dog's life; they're here — naïve café crème brûlée",
    "photorealistic portrait of an astronaut riding a horse on mars, artstation, 35mm",
    "numbers 1234567 and symbols @#$%^&*()_+ emoji 🙂",
]


@pytest.fixture(scope="module")
def hf_tokenizer(tmp_path_factory):
    """transformers' CLIPTokenizer over vocab.json/merges.txt written from the same BPE file."""
    import gzip

    with gzip.open(default_merges_path(), "rt", encoding="utf-8") as f:
        merges = f.read().split("\n")[1 : 49152 - 256 - 2 + 1]
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars = [chr(b) for b in printable] + [chr(256 + i) for i in range(256 - len(printable))]
    vocab = chars + [c + "</w>" for c in chars] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder = tmp_path_factory.mktemp("hf_clip_tokenizer")
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return HFTokenizer.from_pretrained(str(folder))


def test_known_ids_of_a_simple_prompt(tokenizer):
    assert tokenizer("a photo of a cat") == [START_TOKEN, 320, 1125, 539, 320, 2368, END_TOKEN]
    assert (START_TOKEN, END_TOKEN) == (49406, 49407)


@pytest.mark.parametrize("text", SENTENCES)
def test_ids_equal_transformers_clip_tokenizer(tokenizer, hf_tokenizer, text):
    assert tokenizer(text) == hf_tokenizer(text)["input_ids"]


def test_case_and_whitespace_do_not_change_tokens(tokenizer):
    assert tokenizer.encode("  Hello\n\tWORLD  ") == tokenizer.encode("hello world")


def test_text_is_repaired_like_openai_clip(tokenizer):
    """OpenAI's tokenizer runs ftfy and unescapes HTML first (transformers' fast tokenizer does not)."""
    assert tokenizer.encode("“quoted” &amp; ﬁne") == tokenizer.encode('"quoted" & fine')


def test_unknown_characters_fall_back_to_bytes_not_errors(tokenizer):
    ids = tokenizer.encode("ꙮ")
    assert ids and all(0 <= i < 49406 for i in ids)
