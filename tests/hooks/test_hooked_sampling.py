"""A whole KSampler run with hooks on the positive conditioning (cfg 1: the positive alone drives it) equals
the run on the model the hook stands for: the LoRA loaded on the MODEL, or the other checkpoint's UNet for a
model-as-LoRA hook; and the MODEL's weights are its own again afterwards."""

import torch

from nodes.hooks import CreateHookModelAsLoraModelOnly
from nodes.loaders import CheckpointLoaderSimple
from nodes.lora import LoraLoaderModelOnly
from nodes.sampling import KSampler
from tests.fixtures.checkpoints import make_tiny_checkpoint
from tests.hooks.test_hooked_lora import _conds, _hooked, lora_setup

OTHER = "other_sd15.safetensors"


def _sample(env, model, positive, negative):
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    return KSampler(model=model, seed=3, steps=3, cfg=1.0, sampler_name="euler", scheduler="normal",
                    positive=positive, negative=negative, latent_image=latent).run(env.ctx)[0]["samples"]


def test_ksampler_with_a_lora_hook_on_positive_equals_sampling_the_lora_model(env):
    model, positive, negative, hooks, with_lora = lora_setup(env, 1.5)
    before = env.weights(model.handle)

    hooked = _sample(env, model, _hooked(positive, hooks), negative)

    torch.testing.assert_close(hooked, _sample(env, with_lora, positive, negative), rtol=1e-5, atol=1e-5)
    assert (hooked - _sample(env, model, positive, negative)).abs().max() > 1e-3
    after = env.weights(model.handle)
    assert all(torch.equal(after[k], before[k]) for k in before)


def test_ksampler_with_a_model_as_lora_hook_equals_sampling_the_other_checkpoint(env):
    make_tiny_checkpoint("sd15", env.folders.models_dir / "checkpoints" / OTHER, seed=7)
    model, _, _ = env.checkpoint("sd15")
    (other, _, _) = CheckpointLoaderSimple(ckpt_name=OTHER).run(env.ctx)
    positive, negative = _conds()
    (hooks,) = CreateHookModelAsLoraModelOnly(ckpt_name=OTHER, strength_model=1.0).run(env.ctx)

    hooked = _sample(env, model, _hooked(positive, hooks), negative)

    torch.testing.assert_close(hooked, _sample(env, other, positive, negative), rtol=1e-4, atol=1e-4)
    assert (hooked - _sample(env, model, positive, negative)).abs().max() > 1e-3


def test_model_as_lora_hook_keeps_the_models_own_lora(env):
    make_tiny_checkpoint("sd15", env.folders.models_dir / "checkpoints" / OTHER, seed=7)
    _, positive, negative, _, with_lora = lora_setup(env, 1.0)
    (other, _, _) = CheckpointLoaderSimple(ckpt_name=OTHER).run(env.ctx)
    (other_with_lora,) = LoraLoaderModelOnly(model=other, lora_name="hook.safetensors",
                                             strength_model=1.0).run(env.ctx)
    (hooks,) = CreateHookModelAsLoraModelOnly(ckpt_name=OTHER, strength_model=1.0).run(env.ctx)

    hooked = _sample(env, with_lora, _hooked(positive, hooks), negative)

    torch.testing.assert_close(hooked, _sample(env, other_with_lora, positive, negative), rtol=1e-4, atol=1e-4)
