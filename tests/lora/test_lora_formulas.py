"""Each LoRA format changes exactly the weights it names, by exactly its trainer's formula."""

import pytest
import torch

from nodes.lora import LoraLoader, LoraLoaderModelOnly
from tests.fixtures.lora_files import (
    SD15_KOHYA,
    SD15_LOCON,
    SD15_OLD_DIFFUSERS,
    SD15_PEFT,
    SDXL_KOHYA,
    lora_tensors,
)


def _module_key(weights: dict, target: str) -> str:
    """'unet:<key>' or '<tower>:<HF key>' -> the managed module's key."""
    part, path = target.split(":")
    if part == "unet":
        return path
    matches = [k for k in weights if k.startswith(f"towers.{part}.") and k.endswith(path)]
    assert len(matches) == 1, (target, matches)
    return matches[0]


def _expected(fmt: str, t: dict, name: str, weight: torch.Tensor, strength: float) -> torch.Tensor:
    """The change the formula of `fmt` gives, computed here from the file's tensors."""
    shape = weight.shape
    scale = float(t.get(f"{name}.alpha", 0)) / 4 if f"{name}.alpha" in t else 1.0
    if fmt in ("lora", "dora"):
        delta = t[f"{name}.lora_up.weight"].flatten(1) @ t[f"{name}.lora_down.weight"].flatten(1)
    elif fmt == "locon_tucker":
        up, mid, down = (t[f"{name}.lora_{p}.weight"] for p in ("up", "mid", "down"))
        delta = torch.einsum("oa,abkl,bi->oikl", up.flatten(1), mid, down.flatten(1))
    elif fmt in ("peft", "peft_dora"):
        delta = t[f"{name}.lora_B.weight"].flatten(1) @ t[f"{name}.lora_A.weight"].flatten(1)
    elif fmt == "old_diffusers":
        delta = t[f"{name}_lora.up.weight"] @ t[f"{name}_lora.down.weight"]
    elif fmt == "loha":
        delta = (t[f"{name}.hada_w1_a"] @ t[f"{name}.hada_w1_b"]) * (t[f"{name}.hada_w2_a"] @ t[f"{name}.hada_w2_b"])
    elif fmt == "loha_tucker":
        factors = [torch.einsum("ijkl,ip,jr->prkl", t[f"{name}.hada_t{n}"], t[f"{name}.hada_w{n}_a"],
                                t[f"{name}.hada_w{n}_b"]) for n in (1, 2)]
        delta = factors[0] * factors[1]
    elif fmt == "lokr":
        delta = torch.kron(t[f"{name}.lokr_w1"], t[f"{name}.lokr_w2_a"] @ t[f"{name}.lokr_w2_b"])
    else:  # lokr_w1_factored
        w1, w2 = t[f"{name}.lokr_w1_a"] @ t[f"{name}.lokr_w1_b"], t[f"{name}.lokr_w2"]
        delta = torch.kron(w1[:, :, None, None] if w2.ndim == 4 else w1, w2)
    delta = scale * delta.reshape(shape)
    if fmt == "dora":  # kohya: magnitude per input column
        return strength * (_renormalised(weight + delta, t[f"{name}.dora_scale"], rows=False) - weight)
    if fmt == "peft_dora":  # PEFT: magnitude per output row
        return strength * (_renormalised(weight + delta, t[f"{name}.lora_magnitude_vector"], rows=True) - weight)
    return strength * delta


def _renormalised(changed: torch.Tensor, magnitude: torch.Tensor, rows: bool) -> torch.Tensor:
    """DoRA: `changed` scaled so each row's (or column's) norm equals the magnitude."""
    flat = changed.reshape(changed.shape[0], -1) if rows else changed.transpose(0, 1).reshape(changed.shape[1], -1)
    norm = flat.norm(dim=1)
    shape = (-1,) + (1,) * (changed.ndim - 1) if rows else (1, -1) + (1,) * (changed.ndim - 2)
    return changed * magnitude.reshape(shape) / (norm.reshape(shape) + torch.finfo(torch.float32).eps)


CASES = {
    "kohya_sd15": ("sd15", SD15_KOHYA, "lora"),
    "kohya_sdxl": ("sdxl", SDXL_KOHYA, "lora"),
    "locon": ("sd15", SD15_LOCON, "lora"),
    "locon_tucker": ("sd15", {k: v for k, v in SD15_LOCON.items() if "conv" in k}, "locon_tucker"),
    "loha": ("sd15", SD15_KOHYA | SD15_LOCON, "loha"),
    "loha_tucker": ("sd15", {k: v for k, v in SD15_LOCON.items() if "conv" in k}, "loha_tucker"),
    "lokr": ("sd15", SD15_KOHYA, "lokr"),
    "lokr_w1_factored": ("sd15", SD15_KOHYA | SD15_LOCON, "lokr_w1_factored"),
    "peft": ("sd15", SD15_PEFT, "peft"),
    "old_diffusers": ("sd15", SD15_OLD_DIFFUSERS, "old_diffusers"),
    "dora": ("sd15", SD15_KOHYA, "dora"),
    "peft_dora": ("sd15", SD15_PEFT, "peft_dora"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("strength", [0.75, -1.5])
def test_lora_changes_each_named_weight_by_its_formula_and_nothing_else(env, case, strength):
    family, modules, fmt = CASES[case]
    model, clip, _ = env.checkpoint(family)
    before = env.weights(model.handle) | env.weights(clip.handle)
    targets = {name: _module_key(before, target) for name, target in modules.items()}
    tensors = lora_tensors({name: tuple(before[key].shape) for name, key in targets.items()}, fmt)
    name = env.save(f"{case}.safetensors", tensors)

    patched_model, patched_clip = LoraLoader(model=model, clip=clip, lora_name=name, strength_model=strength,
                                             strength_clip=strength).run(env.ctx)
    after = env.weights(patched_model.handle) | env.weights(patched_clip.handle)

    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == set(targets.values())
    for module, key in targets.items():
        expected = _expected(fmt, tensors, module, before[key], strength)
        torch.testing.assert_close(after[key] - before[key], expected, rtol=1e-4, atol=1e-6)


def test_model_and_clip_strengths_are_separate(env):
    model, clip, _ = env.checkpoint("sd15")
    before = env.weights(model.handle) | env.weights(clip.handle)
    shapes = {n: tuple(before[_module_key(before, t)].shape) for n, t in SD15_KOHYA.items()}
    name = env.save("separate.safetensors", lora_tensors(shapes))
    patched_model, patched_clip = LoraLoader(model=model, clip=clip, lora_name=name, strength_model=0.0,
                                             strength_clip=1.0).run(env.ctx)
    assert patched_model is model
    after = env.weights(patched_clip.handle)
    assert any(not torch.equal(before[k], after[k]) for k in after)


def test_full_difference_adds_weight_and_bias_deltas_times_strength(env):
    model, _, _ = env.checkpoint("sd15")
    before = env.weights(model.handle)
    modules = {"lora_unet_down_blocks_0_attentions_0_proj_in": "input_blocks.1.1.proj_in",
               "lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2":
                   "middle_block.1.transformer_blocks.0.ff.net.2"}
    tensors = lora_tensors({n: tuple(before[f"{p}.weight"].shape) for n, p in modules.items()}, "full")
    name = env.save("full_diff.safetensors", tensors)
    (patched,) = LoraLoaderModelOnly(model=model, lora_name=name, strength_model=0.6).run(env.ctx)
    after = env.weights(patched.handle)
    for module, path in modules.items():
        for suffix, part in (("weight", "diff"), ("bias", "diff_b")):
            torch.testing.assert_close(after[f"{path}.{suffix}"] - before[f"{path}.{suffix}"],
                                       0.6 * tensors[f"{module}.{part}"], rtol=1e-5, atol=1e-6)
