"""LoRA patches live on handles: stacking, changing strength and removal never copy or re-read the model,
and a LoRA that does not fit says which of its keys found nothing."""

import logging

import pytest
import torch

import engine.values.model
from nodes.lora import LoraLoader, LoraLoaderModelOnly
from tests.fixtures.lora_files import SD15_KOHYA, lora_tensors


def _shapes(env, model, clip, modules):
    weights = env.weights(model.handle) | env.weights(clip.handle)
    out = {}
    for name, target in modules.items():
        part, path = target.split(":")
        key = path if part == "unet" else next(k for k in weights if k.startswith(f"towers.{part}.") and
                                                k.endswith(path))
        out[name] = tuple(weights[key].shape)
    return out


def test_apply_change_strength_stack_and_remove_restores_bit_identical_weights_without_reading_the_file(
        env, monkeypatch):
    model, clip, _ = env.checkpoint("sd15")
    shapes = _shapes(env, model, clip, SD15_KOHYA)
    first = env.save("first.safetensors", lora_tensors(shapes, seed=1))
    second = env.save("second.pt", lora_tensors(shapes, "loha", seed=2))
    unet = env.manager.load(model.handle)
    original = {k: v.clone() for k, v in unet.state_dict().items()}

    reads = []
    real_open = engine.values.model.open_checkpoint
    monkeypatch.setattr(engine.values.model, "open_checkpoint", lambda path: reads.append(path) or real_open(path))

    strong, _ = LoraLoader(model=model, clip=clip, lora_name=first, strength_model=1.0,
                           strength_clip=1.0).run(env.ctx)
    weak, _ = LoraLoader(model=model, clip=clip, lora_name=first, strength_model=0.3,
                         strength_clip=1.0).run(env.ctx)
    stacked, _ = LoraLoader(model=weak, clip=clip, lora_name=second, strength_model=-0.8,
                            strength_clip=1.0).run(env.ctx)
    seen = []
    for handle in (strong.handle, weak.handle, stacked.handle, model.handle):
        placed = env.manager.load(handle)
        assert placed is unet  # the same module, patched in place of its weights, never a copy
        seen.append({k: v.clone() for k, v in placed.state_dict().items()})

    key = "input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight"
    strong_delta, weak_delta = seen[0][key] - original[key], seen[1][key] - original[key]
    torch.testing.assert_close(weak_delta, 0.3 * strong_delta, rtol=1e-4, atol=1e-7)
    assert not torch.equal(seen[2][key], seen[1][key])
    assert all(torch.equal(seen[3][k], original[k]) for k in original)
    assert reads == []
    assert [e.type for e in env.events if e.data["model"].endswith("(unet)")].count("model_load") == 1


def test_lora_matching_nothing_names_its_unmatched_keys(env):
    model, clip, _ = env.checkpoint("sd15")
    name = env.save("flux_style.safetensors", lora_tensors({
        "lora_unet_double_blocks_0_img_attn_qkv": (96, 32), "lora_unet_single_blocks_3_linear1": (64, 32)}))
    with pytest.raises(ValueError, match="LoraLoader: lora_name 'flux_style.safetensors' matches nothing") as err:
        LoraLoader(model=model, clip=clip, lora_name=name, strength_model=1.0, strength_clip=1.0).run(env.ctx)
    assert "0 of 2 UNet modules matched" in str(err.value)
    assert "lora_unet_double_blocks_0_img_attn_qkv" in str(err.value)


def test_lora_made_for_other_shapes_is_reported_as_a_different_model(env):
    model, _, _ = env.checkpoint("sd15")
    name = env.save("wide.safetensors", lora_tensors({
        "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q": (640, 640)}))
    with pytest.raises(ValueError, match="1 of another shape, made for a different model"):
        LoraLoaderModelOnly(model=model, lora_name=name, strength_model=1.0).run(env.ctx)


def test_partial_match_is_a_warning_with_counts(env, caplog):
    model, clip, _ = env.checkpoint("sd15")
    shapes = _shapes(env, model, clip, SD15_KOHYA)
    shapes |= {"lora_unet_down_blocks_7_attentions_0_proj_in": (32, 32), "lora_unet_nonsense_linear": (8, 8)}
    name = env.save("partial.safetensors", lora_tensors(shapes))
    with caplog.at_level(logging.WARNING):
        LoraLoader(model=model, clip=clip, lora_name=name, strength_model=1.0, strength_clip=1.0).run(env.ctx)
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert "LoRA partial.safetensors: 5 of 7 UNet modules matched" in warning
    assert "lora_unet_nonsense_linear" in warning


def test_model_only_loader_leaves_text_encoder_modules_out_silently(env, caplog):
    model, clip, _ = env.checkpoint("sd15")
    name = env.save("both.safetensors", lora_tensors(_shapes(env, model, clip, SD15_KOHYA)))
    with caplog.at_level(logging.WARNING):
        (patched,) = LoraLoaderModelOnly(model=model, lora_name=name, strength_model=1.0).run(env.ctx)
    assert len(patched.handle.patches) == 5
    assert not caplog.records


def test_text_encoder_only_lora_on_the_model_only_loader_says_so(env):
    model, clip, _ = env.checkpoint("sd15")
    text_only = {k: v for k, v in SD15_KOHYA.items() if k.startswith("lora_te")}
    name = env.save("te_only.safetensors", lora_tensors(_shapes(env, model, clip, text_only)))
    with pytest.raises(ValueError, match="matches nothing in the given model: it holds text-encoder modules only"):
        LoraLoaderModelOnly(model=model, lora_name=name, strength_model=1.0).run(env.ctx)
