"""ComfyUI's model_options hooks are called where ComfyUI calls them, with its argument dicts: the
pre-CFG list on [cond, uncond], then the CFG function, then the post-CFG list in order; the unet wrapper
around each network call; the denoise mask function each step; the cfg = 1 shortcut and its opt-out."""

import torch

from engine.sampling import sample
from tests.sampling.comfy_reference import SEED, SHAPE, conditioning, toy_model

PRE_KEYS = {"conds", "conds_out", "cond_scale", "timestep", "input", "sigma", "model", "model_options"}
CFG_KEYS = {"cond", "uncond", "cond_scale", "timestep", "input", "sigma", "cond_denoised", "uncond_denoised",
            "model", "model_options", "input_cond", "input_uncond"}
POST_KEYS = {"denoised", "cond", "uncond", "cond_scale", "model", "uncond_denoised", "cond_denoised", "sigma",
             "model_options", "input"}


def run(model_options: dict, cfg: float = 3.0, steps: int = 2, latent: dict | None = None) -> torch.Tensor:
    positive, negative = conditioning()
    latent = latent or {"samples": torch.zeros(SHAPE)}
    return sample(toy_model(model_options=model_options), SEED, steps, cfg, "euler", "normal", positive, negative,
                  latent)["samples"]


def test_hooks_run_in_comfyuis_order_with_its_arguments():
    calls = []

    def pre(args):
        calls.append(("pre", set(args)))
        assert len(args["conds_out"]) == 2 and args["conds"][1] is not None
        return [args["conds_out"][0], args["conds_out"][1]]

    def cfg(args):
        calls.append(("cfg", set(args)))
        torch.testing.assert_close(args["cond"], args["input"] - args["cond_denoised"])
        return args["uncond"] + args["cond_scale"] * (args["cond"] - args["uncond"])

    def post(tag):
        def fn(args):
            calls.append((tag, set(args)))
            return args["denoised"]
        return fn

    hooked = run({"sampler_pre_cfg_function": [pre], "sampler_cfg_function": cfg,
                  "sampler_post_cfg_function": [post("post1"), post("post2")]})
    assert [c[0] for c in calls] == ["pre", "cfg", "post1", "post2"] * 2
    assert calls[0][1] == PRE_KEYS and calls[1][1] == CFG_KEYS and calls[2][1] == POST_KEYS
    torch.testing.assert_close(hooked, run({}), rtol=1e-5, atol=1e-5)  # these hooks reproduce plain CFG


def test_post_cfg_result_is_what_the_sampler_steps_with():
    to_uncond = run({"sampler_post_cfg_function": [lambda args: args["uncond_denoised"]]}, cfg=5.0)
    torch.testing.assert_close(to_uncond, run({}, cfg=0.0), rtol=1e-5, atol=1e-5)


def test_cfg_one_skips_the_negative_unless_a_hook_disables_the_shortcut():
    seen = []

    def post(args):
        seen.append(bool(args["uncond_denoised"].abs().sum() > 0) and args["uncond"] is not None)
        return args["denoised"]

    run({"sampler_post_cfg_function": [post]}, cfg=1.0)
    run({"sampler_post_cfg_function": [post], "disable_cfg1_optimization": True}, cfg=1.0)
    assert seen == [False, False, True, True]


def test_unet_wrapper_gets_comfyuis_arguments_and_its_result_is_used():
    seen = []

    def wrapper(apply_model, args):
        seen.append((set(args), set(args["c"]), args["cond_or_uncond"]))
        return apply_model(args["input"], args["timestep"], **args["c"]) * 0 + 0.5

    out = run({"model_function_wrapper": wrapper}, steps=1)
    assert seen[0][0] == {"input", "timestep", "c", "cond_or_uncond"}
    assert {"c_crossattn", "transformer_options"} <= seen[0][1] and seen[0][2] == [0, 1]
    assert torch.allclose(out, torch.full_like(out, 0.5 / 0.18215))  # every x0 is the wrapper's 0.5


def test_denoise_mask_function_sees_each_step_and_can_widen_the_mask():
    sigmas_seen = []
    latent = {"samples": torch.ones(SHAPE), "noise_mask": torch.zeros(1, 8, 8)}

    def everywhere(sigma, mask, extra_options):
        sigmas_seen.append(float(sigma[0]))
        assert set(extra_options) == {"model", "sigmas"}
        return torch.ones_like(mask)

    kept = run({}, latent=latent)
    widened = run({"denoise_mask_function": everywhere}, latent=latent)
    assert torch.equal(kept, latent["samples"])
    assert not torch.allclose(widened, latent["samples"]) and len(sigmas_seen) == 2
