"""SetClipHooks: prompts are encoded with the hooks' CLIP weights (as the same LoRA on the CLIP gives), the
encodings carry the hooks to the sampler when asked, and with schedule_clip the prompt is encoded once per
keyframe part of the run, each encoding limited to its part."""

import torch

from nodes.hooks import CreateHookKeyframe, CreateHookLora, SetClipHooks, SetHookKeyframes
from nodes.lora import LoraLoader
from nodes.text_encode import CLIPTextEncode
from tests.fixtures.lora_files import SD15_KOHYA, lora_tensors
from tests.hooks.test_hooked_lora import _x0

PROMPT = "a red cube"


def _lora(env, model, clip) -> str:
    weights = env.weights(model.handle) | env.weights(clip.handle)
    shapes = {}
    for name, target in SD15_KOHYA.items():
        part, path = target.split(":")
        key = path if part == "unet" else next(k for k in weights if k.startswith(f"towers.{part}.")
                                               and k.endswith(path))
        shapes[name] = tuple(weights[key].shape)
    return env.save("clip_hook.safetensors", lora_tensors(shapes, seed=5))


def _encode(env, clip):
    return CLIPTextEncode(text=PROMPT, clip=clip).run(env.ctx)[0]


def test_clip_hooks_encode_like_the_lora_on_the_clip_and_ride_on_the_conditioning(env):
    model, clip, _ = env.checkpoint("sd15")
    name = _lora(env, model, clip)
    (hooks,) = CreateHookLora(lora_name=name, strength_model=1.0, strength_clip=0.7).run(env.ctx)
    (_, lora_clip) = LoraLoader(model=model, clip=clip, lora_name=name, strength_model=1.0,
                                strength_clip=0.7).run(env.ctx)

    (hooked_clip,) = SetClipHooks(clip=clip, apply_to_conds=True, schedule_clip=False, hooks=hooks).run(None)
    [[hooked, options]] = _encode(env, hooked_clip)
    [[expected, _]] = _encode(env, lora_clip)
    [[plain, _]] = _encode(env, clip)

    torch.testing.assert_close(hooked, expected, rtol=1e-5, atol=1e-5)
    assert (hooked - plain).abs().max() > 1e-3
    assert options["hooks"] == hooks
    (quiet_clip,) = SetClipHooks(clip=clip, apply_to_conds=False, schedule_clip=False, hooks=hooks).run(None)
    assert "hooks" not in _encode(env, quiet_clip)[0][1]


def test_scheduled_clip_encodes_each_keyframe_part_with_its_strength(env):
    model, clip, _ = env.checkpoint("sd15")
    name = _lora(env, model, clip)
    (hooks,) = CreateHookLora(lora_name=name, strength_model=1.0, strength_clip=1.0).run(env.ctx)
    (keyframes,) = CreateHookKeyframe(strength_mult=0.0, start_percent=0.0).run(None)
    (keyframes,) = CreateHookKeyframe(strength_mult=0.5, start_percent=0.4, prev_hook_kf=keyframes).run(None)
    (scheduled,) = SetHookKeyframes(hooks=hooks, hook_kf=keyframes).run(None)
    (hooked_clip,) = SetClipHooks(clip=clip, apply_to_conds=False, schedule_clip=True, hooks=scheduled).run(None)
    (_, half_clip) = LoraLoader(model=model, clip=clip, lora_name=name, strength_model=1.0,
                                strength_clip=0.5).run(env.ctx)

    parts = _encode(env, hooked_clip)
    (early, early_options), (late, late_options) = parts

    assert (early_options["clip_start_percent"], early_options["clip_end_percent"]) == (0.0, 0.4)
    assert (late_options["clip_start_percent"], late_options["clip_end_percent"]) == (0.4, 1.0)
    torch.testing.assert_close(early, _encode(env, clip)[0][0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(late, _encode(env, half_clip)[0][0], rtol=1e-5, atol=1e-5)

    ms = model.get_model_object("model_sampling")
    for percent, active in ((0.2, [parts[0]]), (0.7, [parts[1]])):  # each part drives only its own steps
        sigma = ms.percent_to_sigma(percent)
        torch.testing.assert_close(_x0(env, model, parts, parts, sigma)[1], _x0(env, model, active, active, sigma)[1],
                                   rtol=1e-6, atol=1e-6)
