"""A LoRA hook on the positive conditioning changes only that conditioning's model evaluation, exactly as
the same LoRA loaded onto the whole model would, and its keyframes switch it on and off mid-run."""

import torch

from engine.sampling.cfg import calc_cond_batch, prepare_conds
from engine.values.denoiser import sampling_model
from nodes.conditioning_props import ConditioningSetProperties
from nodes.hooks import CreateHookKeyframe, CreateHookLoraModelOnly, SetHookKeyframes
from nodes.lora import LoraLoaderModelOnly
from tests.fixtures.lora_files import SD15_KOHYA, lora_tensors

SHAPE = (1, 4, 8, 8)


def _lora(env, model) -> str:
    weights = env.weights(model.handle)
    shapes = {name: tuple(weights[target.split(":")[1]].shape) for name, target in SD15_KOHYA.items()
              if target.startswith("unet:")}
    return env.save("hook.safetensors", lora_tensors(shapes, seed=3))


def _conds():
    gen = torch.Generator().manual_seed(0)
    return ([[torch.randn(1, 77, 32, generator=gen), {}]], [[torch.randn(1, 77, 32, generator=gen), {}]])


def _x0(env, model, positive, negative, sigma: float, schedule=None):
    """(negative x0, positive x0) of one calc_cond_batch on a fixed noisy latent."""
    with env.manager.use(model.handle) as unet:
        sm = sampling_model(model, unet)
        x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1)) * sigma
        sides = [prepare_conds(sm, c, torch.Size(SHAPE), "cpu") for c in (negative, positive)]
        options = {} if schedule is None else {"transformer_options": {"sample_sigmas": schedule}}
        return calc_cond_batch(sm, sides, x, torch.tensor([sigma]), options)


def _hooked(positive, hooks):
    return ConditioningSetProperties(cond_NEW=positive, strength=1.0, set_cond_area="default",
                                     hooks=hooks).run(None)[0]


def lora_setup(env, strength: float):
    """(MODEL, positive, negative, a LoRA hook at `strength`, the MODEL with that LoRA loaded)."""
    model, _, _ = env.checkpoint("sd15")
    name = _lora(env, model)
    positive, negative = _conds()
    (hooks,) = CreateHookLoraModelOnly(lora_name=name, strength_model=strength).run(env.ctx)
    (with_lora,) = LoraLoaderModelOnly(model=model, lora_name=name, strength_model=strength).run(env.ctx)
    return model, positive, negative, hooks, with_lora


def test_hooked_lora_on_positive_equals_the_lora_on_the_whole_model_for_it_and_leaves_negative_alone(env):
    model, positive, negative, hooks, with_lora = lora_setup(env, 0.8)
    base_before = env.weights(model.handle)

    hooked_neg, hooked_pos = _x0(env, model, _hooked(positive, hooks), negative, 2.0)
    lora_neg, lora_pos = _x0(env, with_lora, positive, negative, 2.0)
    base_neg, base_pos = _x0(env, model, positive, negative, 2.0)

    torch.testing.assert_close(hooked_pos, lora_pos, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(hooked_neg, base_neg, rtol=1e-5, atol=1e-5)
    assert (lora_pos - base_pos).abs().max() > 1e-3  # the LoRA does change the positive prediction
    assert (lora_neg - base_neg).abs().max() > 1e-3  # so leaving the negative alone is a real difference
    placed_after = env.weights(model.handle)
    assert all(torch.equal(placed_after[k], base_before[k]) for k in base_before)  # MODEL's weights restored


def test_keyframes_turn_the_hook_off_from_their_start_percent(env):
    model, positive, negative, hooks, with_lora = lora_setup(env, 1.0)
    (keyframes,) = CreateHookKeyframe(strength_mult=1.0, start_percent=0.0).run(None)
    (keyframes,) = CreateHookKeyframe(strength_mult=0.0, start_percent=0.5, prev_hook_kf=keyframes).run(None)
    (scheduled,) = SetHookKeyframes(hooks=hooks, hook_kf=keyframes).run(None)
    ms = model.get_model_object("model_sampling")
    switch = ms.percent_to_sigma(0.5)
    early, late = switch * 1.5, switch * 0.5
    schedule = torch.tensor([early * 2, early, late, 0.0])

    _, early_pos = _x0(env, model, _hooked(positive, scheduled), negative, early, schedule)
    _, late_pos = _x0(env, model, _hooked(positive, scheduled), negative, late, schedule)

    torch.testing.assert_close(early_pos, _x0(env, with_lora, positive, negative, early)[1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(late_pos, _x0(env, model, positive, negative, late)[1], rtol=1e-5, atol=1e-5)
    assert (late_pos - _x0(env, with_lora, positive, negative, late)[1]).abs().max() > 1e-3
