"""Tiny text encoders in the real checkpoint layouts encode like the reference models they stand for."""

import pytest
import torch
import torch.nn.functional as F
from transformers import CLIPTextConfig, CLIPTextModel

from engine.models.clip import UnsupportedTextEncoder, load_clip
from engine.models.clip_keys import KeyMapError
from engine.models.tokenizer import END_TOKEN
from tests.fixtures.open_clip_reference import open_clip_resblocks
from tests.fixtures.text_weights import tiny_clip_l_state_dict, tiny_open_clip_state_dict

PROMPT = "a photo of an astronaut riding a horse"


def open_clip_text_forward(sd: dict, ids: torch.Tensor, heads: int):
    """OpenCLIP's text transformer written out: returns (ln_final(last), every block's raw output, projected pooled at the end token)."""
    width = sd["token_embedding.weight"].shape[1]
    x = sd["token_embedding.weight"][ids] + sd["positional_embedding"]
    mask = torch.full((ids.shape[1], ids.shape[1]), float("-inf")).triu(1)
    blocks = open_clip_resblocks(sd, x, heads, attn_mask=mask)
    final = F.layer_norm(blocks[-1], (width,), sd["ln_final.weight"], sd["ln_final.bias"])
    pooled = final[torch.arange(len(ids)), ids.argmax(-1)] @ sd["text_projection"]
    return final, blocks, pooled


def _ln(sd: dict, x: torch.Tensor) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], sd["ln_final.weight"], sd["ln_final.bias"])


@pytest.fixture(scope="module")
def open_clip_h():
    """A 2-head OpenCLIP text tower under SD2's prefix, and the same weights without it."""
    prefix = "cond_stage_model.model."
    sd = tiny_open_clip_state_dict(prefix, width=128, layers=3, seed=5, projection_dim=96)
    return load_clip(sd), {k[len(prefix) :]: v for k, v in sd.items()}


def test_open_clip_tower_equals_reference_forward(open_clip_h, tokenizer):
    clip, raw = open_clip_h
    chunks = clip.tokenize(PROMPT)["h"]
    ids = torch.tensor([[t for t, _ in chunks[0]]])
    final, blocks, pooled = open_clip_text_forward(raw, ids, heads=2)
    encoder = clip.encoders["h"]
    last, ours_pooled = encoder.forward_chunks(chunks, layer_idx=-1)
    torch.testing.assert_close(last, final, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours_pooled, pooled, atol=1e-5, rtol=1e-5)
    sd2_default, _ = encoder.forward_chunks(chunks)  # SD2: penultimate block, then ln_final
    torch.testing.assert_close(sd2_default, _ln(raw, blocks[-2]), atol=1e-5, rtol=1e-5)
    encoder.norm_hidden = False  # SDXL's convention for the same tower: penultimate block as it is
    raw_hidden, _ = encoder.forward_chunks(chunks)
    encoder.norm_hidden = True
    torch.testing.assert_close(raw_hidden, blocks[-2], atol=1e-5, rtol=1e-5)


def test_clip_l_equals_transformers_forward(tokenizer):
    sd = tiny_clip_l_state_dict("cond_stage_model.transformer.", width=64, layers=3, seed=3)
    clip = load_clip(sd)
    config = CLIPTextConfig(hidden_size=64, intermediate_size=256, num_hidden_layers=3, num_attention_heads=1,
                            hidden_act="quick_gelu", eos_token_id=END_TOKEN)  # fmt: skip
    reference = CLIPTextModel(config).eval()
    plain = {k.removeprefix("cond_stage_model.transformer.text_model."): v for k, v in sd.items()}
    reference.load_state_dict({k: v for k, v in plain.items() if k != "embeddings.position_ids"})
    chunks = clip.tokenize(PROMPT)["l"]
    with torch.no_grad():
        out = reference(torch.tensor([[t for t, _ in chunks[0]]]), output_hidden_states=True)
    encoder = clip.encoders["l"]
    last, pooled = encoder.forward_chunks(chunks)
    torch.testing.assert_close(last, out.last_hidden_state, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled, out.pooler_output, atol=1e-5, rtol=1e-5)
    skip2, _ = encoder.forward_chunks(chunks, layer_idx=-2)
    expected = reference.final_layer_norm(out.hidden_states[-2])
    torch.testing.assert_close(skip2, expected, atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def sd1_clip():
    return load_clip(tiny_clip_l_state_dict("cond_stage_model.transformer.", seed=1))


def test_clip_skip_changes_the_conditioning_without_touching_the_original(sd1_clip):
    default, _ = sd1_clip.encode_text(PROMPT)
    skipped = sd1_clip.with_layer(-2)
    assert sd1_clip.layer_idx is None and skipped.layer_idx == -2
    assert not torch.allclose(skipped.encode_text(PROMPT)[0], default)
    torch.testing.assert_close(sd1_clip.with_layer(-1).encode_text(PROMPT)[0], default)
    torch.testing.assert_close(sd1_clip.encode_text(PROMPT)[0], default)


def test_sd2_defaults_to_the_penultimate_layer(open_clip_h):
    clip, _ = open_clip_h
    default = clip.encode_text(PROMPT)[0]
    torch.testing.assert_close(clip.with_layer(-2).encode_text(PROMPT)[0], default)
    assert not torch.allclose(clip.with_layer(-1).encode_text(PROMPT)[0], default)


def test_weights_interpolate_from_the_empty_prompt(sd1_clip):
    plain, _ = sd1_clip.encode_text("a cat on a mat")
    torch.testing.assert_close(sd1_clip.encode_text("a (cat:1.0) on a mat")[0], plain)
    weighted, _ = sd1_clip.encode_text("a (cat:1.5) on a mat")
    empty, _ = sd1_clip.encoders["l"].forward_chunks(sd1_clip.tokenize("")["l"])
    expected = plain.clone()
    expected[0, 2] = empty[0, 2] + (plain[0, 2] - empty[0, 2]) * 1.5  # position 2: "cat"
    torch.testing.assert_close(weighted, expected)


def test_long_prompt_conditioning_is_77_per_window(sd1_clip, tokenizer):
    words = 200 // len(tokenizer.encode("photorealistic"))  # about 200 tokens
    cond, pooled = sd1_clip.encode_text(" ".join(["photorealistic"] * words))
    assert cond.shape == (1, 77 * 3, 32) and pooled.shape == (1, 32)


def test_sdxl_concatenates_both_towers_and_pools_from_bigg():
    sd = tiny_clip_l_state_dict("conditioner.embedders.0.transformer.", width=32)
    sd |= tiny_open_clip_state_dict("conditioner.embedders.1.model.", width=64, projection_dim=48)
    clip = load_clip(sd, "sdxl_base")
    cond, pooled = clip.encode_text(PROMPT)
    assert cond.shape == (1, 77, 32 + 64) and pooled.shape == (1, 48)
    g_hidden, g_pooled = clip.encoders["g"].forward_chunks(clip.tokenize(PROMPT)["g"])
    torch.testing.assert_close(cond[..., 32:], g_hidden)
    torch.testing.assert_close(pooled, g_pooled)
    tokens = clip.tokenize_pair(" ".join(["photorealistic"] * 40), "a cat")
    assert len(tokens["g"]) == len(tokens["l"]) == 2
    assert clip.encode(tokens)[0].shape == (1, 154, 96)


@pytest.mark.parametrize(
    ("prefixes", "family", "towers"),
    [
        ({"cond_stage_model.transformer.": "l"}, "sd1", ["l"]),
        ({"cond_stage_model.model.": "o"}, "sd2", ["h"]),
        (
            {"conditioner.embedders.0.transformer.": "l", "conditioner.embedders.1.model.": "o"},
            "sdxl",
            ["l", "g"],
        ),
        ({"conditioner.embedders.0.model.": "o"}, "sdxl_refiner", ["g"]),
    ],
)
def test_family_is_recognised_from_the_towers(prefixes, family, towers):
    sd = {}
    for prefix, kind in prefixes.items():
        sd |= (
            tiny_clip_l_state_dict(prefix, layers=1)
            if kind == "l"
            else tiny_open_clip_state_dict(prefix, layers=1)
        )
    clip = load_clip(sd)
    assert list(clip.encoders) == towers
    assert clip.pooled_from == towers[-1]


def test_checkpoint_module_names_resolve_in_both_model_classes():
    sd = tiny_clip_l_state_dict("conditioner.embedders.0.transformer.", layers=1)
    sd |= tiny_open_clip_state_dict("conditioner.embedders.1.model.", layers=1)
    clip = load_clip(sd)
    for encoder in clip.encoders.values():
        path = encoder.module_path("text_model.encoder.layers.0.self_attn.q_proj")
        assert isinstance(encoder.model.get_submodule(path), torch.nn.Linear)
    with pytest.raises(KeyError, match="layers.5"):
        clip.encoders["g"].module_path("text_model.encoder.layers.5.mlp.fc1")


def test_files_with_and_without_position_ids_load_the_same(sd1_clip):
    plain = load_clip(tiny_clip_l_state_dict("cond_stage_model.transformer.", seed=1, position_ids=False))
    torch.testing.assert_close(plain.encode_text(PROMPT)[0], sd1_clip.encode_text(PROMPT)[0])


def test_unknown_open_clip_keys_are_reported():
    sd = tiny_open_clip_state_dict("cond_stage_model.model.", layers=1)
    sd["cond_stage_model.model.transformer.resblocks.0.attn.rotary.weight"] = torch.zeros(4)
    with pytest.raises(KeyMapError, match="attn.rotary.weight"):
        load_clip(sd)


def test_missing_text_encoder_is_reported():
    with pytest.raises(UnsupportedTextEncoder, match="sdxl needs one hf text encoder"):
        load_clip(tiny_open_clip_state_dict("conditioner.embedders.1.model.", layers=1), "sdxl")
