"""Full-size text and image encoders, built on the meta device from configs inferred from the manifests'
shapes, give back exactly the manifests' keys and shapes through the checkpoint key maps."""

import pytest
import torch

from engine.models.clip import find_text_towers
from engine.models.clip_keys import IGNORED_OPEN_CLIP, POSITION_IDS
from engine.models.clip_vision import (
    build_vision_model,
    find_visual_tower,
    infer_vision_config,
    to_hf_vision_layout,
    vision_checkpoint_state_dict,
)
from engine.models.text_encoders import (
    build_text_model,
    checkpoint_state_dict,
    infer_text_config,
    to_hf_text_layout,
)

TOWERS = [
    ("sd15", "cond_stage_model.transformer.", "hf", 768, 12, 12, "quick_gelu"),
    ("sd21_768v", "cond_stage_model.model.", "open_clip", 1024, 24, 16, "gelu"),
    ("sdxl_base", "conditioner.embedders.0.transformer.", "hf", 768, 12, 12, "quick_gelu"),
    ("sdxl_base", "conditioner.embedders.1.model.", "open_clip", 1280, 32, 20, "gelu"),
    ("sdxl_refiner", "conditioner.embedders.0.model.", "open_clip", 1280, 32, 20, "gelu"),
]


def _meta_tower(manifest: dict, prefix: str) -> dict[str, torch.Tensor]:
    return {
        k[len(prefix) :]: torch.empty(shape, device="meta")
        for k, shape in manifest["tensors"].items()
        if k.startswith(prefix)
    }


def _shapes(sd: dict) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in sd.items()}


@pytest.mark.parametrize(("name", "prefix", "layout", "width", "layers", "heads", "act"), TOWERS)
def test_full_size_text_tower_matches_manifest(manifest, name, prefix, layout, width, layers, heads, act):
    ref = manifest(name)
    assert find_text_towers(list(ref["tensors"]))[prefix] == layout
    tower = _meta_tower(ref, prefix)
    hf, open_clip = to_hf_text_layout(tower)
    config = infer_text_config(hf, open_clip)
    dims = (config.hidden_size, config.num_hidden_layers, config.num_attention_heads, config.hidden_act)
    assert dims == (width, layers, heads, act)
    assert (config.vocab_size, config.max_position_embeddings) == (49408, 77)
    model = build_text_model(config, projection="text_projection.weight" in hf)
    rebuilt = _shapes(checkpoint_state_dict(model, open_clip))
    expected = _shapes(tower)
    # the loader drops only what transformers does not hold: the int64 position_ids buffer, logit_scale
    dropped = {k for k in expected if k.endswith(POSITION_IDS) or k in IGNORED_OPEN_CLIP}
    assert dropped == ({"logit_scale"} if open_clip else {"text_model." + POSITION_IDS})
    assert rebuilt == {k: v for k, v in expected.items() if k not in dropped}


def test_full_size_svd_image_encoder_matches_manifest(manifest):
    ref = manifest("svd_img2vid")
    prefix, layout = find_visual_tower(list(ref["tensors"]))
    assert (prefix, layout) == ("conditioner.embedders.0.open_clip.model.visual.", "open_clip")
    tower = _meta_tower(ref, prefix)
    config = infer_vision_config(to_hf_vision_layout(tower, layout), open_clip=True)
    assert (config.hidden_size, config.num_hidden_layers, config.num_attention_heads) == (1280, 32, 16)
    assert (config.image_size, config.patch_size, config.projection_dim) == (224, 14, 1024)
    assert config.hidden_act == "gelu"
    rebuilt = _shapes(vision_checkpoint_state_dict(build_vision_model(config), open_clip=True))
    assert rebuilt == _shapes(tower)
    assert sum(torch.Size(s).numel() for s in rebuilt.values()) == 632_076_800


def test_svd_text_leftovers_are_not_mistaken_for_a_text_encoder(manifest):
    assert find_text_towers(list(manifest("svd_img2vid")["tensors"])) == {}
