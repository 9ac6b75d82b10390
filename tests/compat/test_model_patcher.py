"""MODEL is ComfyUI's ModelPatcher: attention and block patches change Loom's UNet exactly where and how
ComfyUI's patch points would (checked against the same UNet changed by hand), clones are independent, and
weight patches added the ComfyUI way equal Loom's own LoRA patches and are undone bit-exactly."""

import copy

import pytest
import torch

from engine.models.lora.apply import lora_patches, read_lora
from engine.models.lora.keys import unet_names
from engine.sampling.ksampler import sample
from engine.values.denoiser import sampling_model
from engine.weight_patches import Patch
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.fixtures.lora_files import SD15_KOHYA, lora_tensors, save_lora
from tests.fixtures.tiny_model import tiny_model, unet_inputs

TO_K = "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"


@pytest.fixture(scope="module")
def sd15_file(tmp_path_factory):
    return make_tiny_checkpoint("sd15", tmp_path_factory.mktemp("model_patcher") / "sd15.safetensors")


@pytest.fixture
def sd15_model(sd15_file):
    """A fresh MODEL (own manager) on the tiny SD1.5 checkpoint."""
    return tiny_model(sd15_file)


def run(model, x, t, context, options=None):
    unet = model.patch_model().diffusion_model
    return unet(x, t, context, transformer_options=model.model_options["transformer_options"] if options is None
                else options)


def hand_changed(model, change):
    """A copy of the placed UNet with `change(name, module)` applied to every submodule."""
    reference = copy.deepcopy(model.patch_model().diffusion_model)
    for name, module in reference.named_modules():
        change(name, module)
    return reference


def test_attn2_patch_on_q_and_v_equals_scaling_those_projections(sd15_model):
    x, t, context = unet_inputs()
    patched = sd15_model.clone()
    patched.set_model_attn2_patch(lambda n, ctx, value, extra: (n * 2.0, ctx, value * 0.5))

    def scale(name, module):
        if name.endswith("attn2"):
            module.to_q.weight.mul_(2.0)
            module.to_v.weight.mul_(0.5)

    expected = hand_changed(sd15_model, scale)(x, t, context)
    out = run(patched, x, t, context)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out, run(sd15_model, x, t, context), atol=1e-4)


def test_attn1_replace_touches_only_its_block(sd15_model):
    x, t, context = unet_inputs()
    patched = sd15_model.clone()
    patched.set_model_attn1_replace(lambda q, k, v, extra: v, "middle", 0)

    def identity_attention(name, module):
        if name == "middle_block.1.transformer_blocks.0.attn1":
            module.forward = lambda n, context=None, value=None, m=module: m.to_out(m.to_v(n))

    expected = hand_changed(sd15_model, identity_attention)(x, t, context)
    torch.testing.assert_close(run(patched, x, t, context), expected, rtol=1e-5, atol=1e-5)


def test_attention_patches_see_comfyui_extra_options_in_block_order(sd15_model):
    seen = []

    def record(n, ctx, value, extra):
        seen.append((extra["block"], extra["block_index"], extra["transformer_index"], extra["n_heads"],
                     extra["dim_head"], extra["original_shape"]))
        return n, ctx, value

    patched = sd15_model.clone()
    patched.set_model_attn1_patch(record)
    x, t, context = unet_inputs()
    run(patched, x, t, context)
    blocks = [("input", 1), ("input", 3), ("middle", 0), ("output", 0), ("output", 1), ("output", 2), ("output", 3)]
    assert [s[0] for s in seen] == blocks
    assert [s[2] for s in seen] == list(range(7))
    assert {s[1] for s in seen} == {0} and {s[3] for s in seen} == {8}
    assert seen[0][4] == 4 and seen[-1][4] == 4 and seen[1][4] == 8  # 32 and 64 wide blocks, 8 heads
    assert {tuple(s[5]) for s in seen} == {tuple(x.shape)}


def test_output_patches_and_block_patches_run_at_comfyui_points(sd15_model):
    calls = []
    patched = sd15_model.clone()
    patched.set_model_input_block_patch(lambda h, opts: calls.append(("in", opts["block"], h.shape[1])) or h)
    patched.set_model_input_block_patch_after_skip(lambda h, opts: calls.append(("skip", opts["block"])) or h)
    patched.set_model_output_block_patch(lambda h, hsp, opts: calls.append(("out", opts["block"], hsp.shape[1]))
                                         or (h, hsp))
    patched.set_model_attn2_output_patch(lambda n, extra: n)
    x, t, context = unet_inputs()
    assert torch.equal(run(patched, x, t, context), run(sd15_model, x, t, context))
    assert [c for c in calls if c[0] == "in"] == [("in", ("input", i), w) for i, w in enumerate((32, 32, 32, 64))]
    assert [c[1] for c in calls if c[0] == "skip"] == [("input", i) for i in range(4)]
    assert [c for c in calls if c[0] == "out"] == [("out", ("output", i), w) for i, w in enumerate((64, 32, 32, 32))]


def test_attn2_output_patch_scales_the_cross_attention_result(sd15_model):
    x, t, context = unet_inputs()
    patched = sd15_model.clone()
    patched.set_model_attn2_output_patch(lambda n, extra: n * 0.0)

    def no_cross_attention(name, module):
        if name.endswith("attn2"):
            module.forward = lambda n, context=None, value=None: torch.zeros_like(n)

    expected = hand_changed(sd15_model, no_cross_attention)(x, t, context)
    torch.testing.assert_close(run(patched, x, t, context), expected, rtol=1e-5, atol=1e-5)


def test_unet_wrapper_receives_comfyui_arguments_and_can_pass_through(sd15_model):
    seen = []

    def wrapper(apply_model, args):
        seen.append((sorted(args), sorted(args["c"]), args["cond_or_uncond"],
                     args["c"]["transformer_options"]["cond_or_uncond"]))
        return apply_model(args["input"], args["timestep"], **args["c"])

    wrapped = sd15_model.clone()
    wrapped.set_model_unet_function_wrapper(wrapper)
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    _, _, context = unet_inputs(batch=1)
    runs = []
    for model in (sd15_model, wrapped):
        sm = sampling_model(model, model.patch_model().diffusion_model)
        runs.append(sample(sm, 1, 2, 5.0, "euler", "normal", [[context, {}]], [[context * 0.0, {}]], latent)["samples"])
    assert torch.equal(runs[0], runs[1])
    assert seen and seen[0] == (["c", "cond_or_uncond", "input", "timestep"],
                                ["c_crossattn", "control", "transformer_options"], [0, 1], [0, 1])


def test_diffusion_model_wrapper_wraps_the_unet_call_and_clone_callbacks_run(sd15_model):
    seen, cloned = [], []

    def double(executor, x, timesteps, context, y, control, transformer_options):
        seen.append((executor.class_obj, x.shape, sorted(transformer_options)))
        return executor(x, timesteps, context, y, control, transformer_options) * 2.0

    wrapped = sd15_model.clone()
    wrapped.add_wrapper_with_key("diffusion_model", "test-pack", double)
    wrapped.add_callback_with_key("on_clone", "test-pack", lambda original, clone: cloned.append(clone))
    x, t, context = unet_inputs()
    torch.testing.assert_close(run(wrapped, x, t, context), 2.0 * run(sd15_model, x, t, context))
    assert seen[0][0] is wrapped.model.diffusion_model and seen[0][1] == x.shape
    assert wrapped.get_wrappers("diffusion_model", "test-pack") == [double]
    again = wrapped.clone()
    assert cloned == [again] and again.get_all_wrappers("diffusion_model") == [double]
    assert sd15_model.get_all_wrappers("diffusion_model") == []


def test_object_patch_on_a_unet_submodule_stands_in_during_sampling_calls_only(sd15_model):
    original = sd15_model.patch_model().diffusion_model.out[2]
    silent = torch.nn.Conv2d(original.in_channels, original.out_channels, 3, padding=1)
    torch.nn.init.zeros_(silent.weight)
    torch.nn.init.zeros_(silent.bias)
    patched = sd15_model.clone()
    patched.add_object_patch("diffusion_model.out.2", silent)
    x, _, context = unet_inputs()
    sigma = torch.tensor([2.0, 2.0])
    view = sampling_model(patched, patched.patch_model().diffusion_model)
    torch.testing.assert_close(view.apply_model(x, sigma, context), x)  # eps = 0: x0 is the input itself
    assert sd15_model.model.diffusion_model.out[2] is original
    plain = sampling_model(sd15_model, sd15_model.patch_model().diffusion_model).apply_model(x, sigma, context)
    assert not torch.allclose(plain, x, atol=1e-3)


def test_clones_patch_independently_and_share_the_base_model(sd15_model):
    clone = sd15_model.clone()
    clone.set_model_attn1_patch(lambda n, c, v, e: (n, c, v))
    clone.add_object_patch("model_sampling", "replaced")
    clone.add_patches({"diffusion_model." + TO_K: (torch.ones(64, 32),)}, 0.5)
    assert sd15_model.model_options["transformer_options"] == {}
    assert sd15_model.get_model_object("model_sampling") is not clone.get_model_object("model_sampling")
    assert sd15_model.handle.patches == () and len(clone.handle.patches) == 1
    assert clone.is_clone(sd15_model) and clone.model is sd15_model.model
    grandchild = clone.clone()
    grandchild.set_model_attn1_patch(lambda n, c, v, e: (n, c, v))
    assert len(clone.model_options["transformer_options"]["patches"]["attn1_patch"]) == 1


def placed(model, key):
    return model.handle.manager.load(model.handle).state_dict()[key].clone()


def test_add_patches_equals_a_loom_lora_patch_and_unpatches_bit_exactly(sd15_model):
    original = placed(sd15_model, TO_K)
    delta = torch.randn(original.shape, generator=torch.Generator().manual_seed(3))
    loom = sd15_model.with_patches([Patch(TO_K, delta, 0.7)])
    comfy = sd15_model.clone()
    assert comfy.add_patches({"diffusion_model." + TO_K: (delta,), "diffusion_model.missing.weight": (delta,)},
                             0.7) == ["diffusion_model." + TO_K]
    assert torch.equal(placed(loom, TO_K), placed(comfy, TO_K))
    torch.testing.assert_close(placed(comfy, TO_K), original + 0.7 * delta)
    comfy.unpatch_model()
    assert torch.equal(comfy.model.diffusion_model.state_dict()[TO_K], original)


def test_add_patches_of_a_kohya_lora_by_hand_equal_loom_lora_loading(sd15_model, tmp_path):
    shapes = sd15_model.handle.module_shapes()
    unet_modules = {name: target.split(":")[1] for name, target in SD15_KOHYA.items() if target.startswith("unet:")}
    tensors = lora_tensors({name: tuple(shapes[key]) for name, key in unet_modules.items()}, seed=4)
    lora = read_lora(save_lora(tensors, tmp_path / "kohya.safetensors"))
    loom_patches, _ = lora_patches(lora, unet_names(sd15_model.config.unet, shapes), shapes, 0.8, False)
    loom = sd15_model.with_patches(loom_patches)
    comfy = sd15_model.clone()
    for name, key in unet_modules.items():
        up, down = tensors[f"{name}.lora_up.weight"], tensors[f"{name}.lora_down.weight"]
        delta = (up.flatten(1) @ down.flatten(1)) * (float(tensors[f"{name}.alpha"]) / down.shape[0])
        comfy.add_patches({"diffusion_model." + key: ("diff", (delta.reshape(shapes[key]),))}, 0.8)
    for key in unet_modules.values():
        torch.testing.assert_close(placed(comfy, key), placed(loom, key), rtol=1e-5, atol=1e-6)


def test_merging_through_get_key_patches_blends_two_models(sd15_file, tmp_path):
    first = tiny_model(sd15_file)
    second = tiny_model(make_tiny_checkpoint("sd15", tmp_path / "other.safetensors", seed=1), first.handle.manager)
    w1, w2 = placed(first, TO_K), placed(second, TO_K)
    merged = first.clone()
    patches = second.get_key_patches("diffusion_model.")
    for key in patches:
        merged.add_patches({key: patches[key]}, 1.0 - 0.3, 0.3)
    torch.testing.assert_close(placed(merged, TO_K), 0.3 * w1 + 0.7 * w2)
    assert torch.equal(placed(first, TO_K), w1)


@pytest.mark.parametrize("name", ["model_sampling", "latent_format", "diffusion_model.input_blocks.1.1"])
def test_get_model_object_reaches_the_ldm_names(sd15_model, name):
    assert sd15_model.get_model_object(name) is not None
    assert sd15_model.model_dtype() == torch.float32 and sd15_model.model_size() > 0
