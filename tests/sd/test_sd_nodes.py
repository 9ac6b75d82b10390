"""The SD nodes one at a time: latent and conditioning reshaping, SDXL size conditioning, clip skip,
sampler progress/preview/interrupt, and weight patches riding on a MODEL handle."""

import pytest
import torch

from engine.graph.context import ExecutionContext, ExecutionInterrupted, Interrupt, Services
from engine.graph.events import EventLog
from engine.models.vae import AutoencoderKL
from engine.values.denoiser import sdxl_numbers, sdxl_vector
from engine.weight_patches import Patch
from nodes.conditioning import ConditioningCombine, ConditioningSetArea, ConditioningZeroOut
from nodes.latents import EmptyLatentImage, LatentUpscale, LatentUpscaleBy, SetLatentNoiseMask
from nodes.loaders import CheckpointLoaderSimple, VAELoader
from nodes.sampling import KSampler, KSamplerAdvanced
from nodes.text_encode import CLIPSetLastLayer, CLIPTextEncode, CLIPTextEncodeSDXLRefiner
from nodes.vae_nodes import VAEDecode, VAEDecodeTiled, VAEEncodeForInpaint, VAEEncodeTiled
from tests.fixtures.workflow_runner import VAE_FILE


@pytest.fixture
def ctx_for(loom):
    def make(sink=None, interrupt=None):
        return ExecutionContext("3", "p", {}, Services(folders=loom.folders, models=loom.manager),
                                sink=sink or loom.events, interrupt=interrupt)
    return make


def test_empty_latent_and_upscales_follow_image_sizes():
    (latent,) = EmptyLatentImage(width=128, height=64, batch_size=2).run(None)
    assert latent["samples"].shape == (2, 4, 8, 16)
    masked = latent | {"noise_mask": torch.ones(2, 1, 64, 128)}
    (wide,) = LatentUpscale(samples=masked, upscale_method="bislerp", width=256, height=0, crop="disabled").run(None)
    # the mask stays as it is (ComfyUI keeps it; sampling fits a noise mask to the latent's size)
    assert wide["samples"].shape == (2, 4, 16, 32) and wide["noise_mask"] is masked["noise_mask"]
    (by,) = LatentUpscaleBy(samples=latent, upscale_method="bilinear", scale_by=1.5).run(None)
    assert by["samples"].shape == (2, 4, 12, 24)


def test_bislerp_keeps_a_constant_latent_constant():
    samples = torch.tensor([0.5, -1.0, 2.0, 0.25]).reshape(1, 4, 1, 1).expand(1, 4, 5, 7).clone()
    (up,) = LatentUpscale(samples={"samples": samples}, upscale_method="bislerp", width=96, height=64,
                          crop="center").run(None)
    assert torch.allclose(up["samples"], samples[..., :1, :1].expand(1, 4, 8, 12), atol=1e-5)


def test_set_latent_noise_mask_attaches_a_batched_mask():
    (latent,) = SetLatentNoiseMask(samples={"samples": torch.zeros(1, 4, 8, 8)}, mask=torch.ones(64, 64)).run(None)
    assert latent["noise_mask"].shape == (1, 1, 64, 64)


def test_conditioning_combine_zero_out_and_area():
    a = [[torch.ones(1, 77, 8), {"pooled_output": torch.ones(1, 8)}]]
    b = [[torch.full((1, 77, 8), 2.0), {}]]
    (both,) = ConditioningCombine(conditioning_1=a, conditioning_2=b).run(None)
    assert len(both) == 2 and both[1][0] is b[0][0]
    (zero,) = ConditioningZeroOut(conditioning=a).run(None)
    assert not zero[0][0].any() and not zero[0][1]["pooled_output"].any() and a[0][0].all()
    (area,) = ConditioningSetArea(conditioning=a, width=256, height=128, x=64, y=32, strength=0.5).run(None)
    assert area[0][1]["area"] == (16, 32, 4, 8) and area[0][1]["strength"] == 0.5
    assert "area" not in a[0][1]


def test_sdxl_label_vector_orders_sizes_as_sdxl_and_checks_width():
    options = {"width": 1024, "height": 768, "crop_w": 8, "crop_h": 16, "target_width": 512, "target_height": 256,
               "pooled_output": torch.ones(1, 32)}
    assert sdxl_numbers(options, refiner=False) == [768, 1024, 16, 8, 256, 512]
    assert sdxl_numbers({"aesthetic_score": 2.5}, refiner=True) == [768, 768, 0, 0, 2.5]
    vector = sdxl_vector(options, 32 + 6 * 256, refiner=False, batch=3)
    assert vector.shape == (3, 32 + 6 * 256) and torch.equal(vector[:, :32], torch.ones(3, 32))
    with pytest.raises(ValueError, match="label vector"):
        sdxl_vector(options, 2816, refiner=False, batch=1)


def test_clip_skip_changes_the_prompt_encoding(ctx_for):
    ctx = ctx_for()
    _, clip, _ = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    (last,) = CLIPTextEncode(text="a red bottle", clip=clip).run(ctx)
    (skipped_clip,) = CLIPSetLastLayer(clip=clip, stop_at_clip_layer=-2).run(ctx)
    (skipped,) = CLIPTextEncode(text="a red bottle", clip=skipped_clip).run(ctx)
    assert last[0][0].shape == skipped[0][0].shape == (1, 77, 32)
    assert not torch.allclose(last[0][0], skipped[0][0])


def _sampler(ctx, model, clip, steps=3):
    (cond,) = CLIPTextEncode(text="a red bottle", clip=clip).run(ctx)
    latent = {"samples": torch.zeros(1, 4, 8, 8)}
    (out,) = KSampler(model=model, seed=7, steps=steps, cfg=7.5, sampler_name="euler", scheduler="normal",
                      positive=cond, negative=cond, latent_image=latent, denoise=1.0).run(ctx)
    return out["samples"]


def test_ksampler_reports_each_step_with_a_preview(ctx_for):
    log = EventLog()
    ctx = ctx_for(sink=log)
    model, clip, _ = CheckpointLoaderSimple(ckpt_name="sd_xl_base_1.0.safetensors").run(ctx)
    _sampler(ctx, model, clip, steps=3)
    assert [(p["value"], p["max"]) for p in log.of_type("progress")] == [(1, 3), (2, 3), (3, 3)]
    assert len(log.of_type("preview")) == 3


def test_ksampler_stops_at_the_next_step_when_interrupted(ctx_for):
    interrupt = Interrupt()

    def interrupt_after_first_step(event):
        if event.type == "progress":
            interrupt.set()

    ctx = ctx_for(sink=interrupt_after_first_step, interrupt=interrupt)
    model, clip, _ = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    with pytest.raises(ExecutionInterrupted):
        _sampler(ctx, model, clip, steps=5)


def test_patched_model_samples_differently_and_unpatched_exactly_as_before(ctx_for, loom):
    ctx = ctx_for()
    loom.manager.subscribe(loom.events)
    model, clip, _ = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    plain = _sampler(ctx, model, clip)
    key = "out.2.weight"
    delta = torch.randn(model.handle.module_shapes()[key])
    patched = _sampler(ctx, model.with_patches([Patch(key, delta, 0.5)]), clip)
    assert not torch.allclose(plain, patched)
    assert torch.equal(_sampler(ctx, model, clip), plain)
    assert [e[0] for e in loom.model_events()].count("model_load") == 2  # clip and unet, once each


def test_refiner_prompt_carries_aesthetic_score_and_samples(ctx_for):
    ctx = ctx_for()
    model, clip, _ = CheckpointLoaderSimple(ckpt_name="sd_xl_refiner_1.0.safetensors").run(ctx)
    (positive,) = CLIPTextEncodeSDXLRefiner(ascore=6.0, width=1024, height=1024, text="sharp", clip=clip).run(ctx)
    (negative,) = CLIPTextEncodeSDXLRefiner(ascore=2.5, width=1024, height=1024, text="blurry", clip=clip).run(ctx)
    assert positive[0][1]["aesthetic_score"] == 6.0 and positive[0][1]["pooled_output"].shape == (1, 32)
    latent = {"samples": torch.randn(1, 4, 8, 8)}
    (out,) = KSamplerAdvanced(model=model, add_noise="disable", noise_seed=0, steps=4, cfg=5.0, sampler_name="euler",
                              scheduler="normal", positive=positive, negative=negative, latent_image=latent,
                              start_at_step=2, end_at_step=10000, return_with_leftover_noise="disable").run(ctx)
    assert out["samples"].shape == (1, 4, 8, 8) and not torch.equal(out["samples"], latent["samples"])


def test_standalone_vae_file_decodes_like_the_same_weights_in_a_checkpoint(ctx_for):
    ctx = ctx_for()
    (vae,) = VAELoader(vae_name=VAE_FILE).run(ctx)
    _, _, bundled = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    latent = {"samples": torch.randn(1, 4, 8, 8)}
    (image,) = VAEDecode(samples=latent, vae=vae).run(ctx)
    (same,) = VAEDecode(samples=latent, vae=bundled).run(ctx)
    assert image.shape == (1, 64, 64, 3) and torch.equal(image, same)


def test_inpaint_encode_crops_mask_and_image_together(ctx_for):
    ctx = ctx_for()
    _, _, vae = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    mask = torch.zeros(1, 70, 60)
    mask[:, 20:40, 10:30] = 1.0
    (latent,) = VAEEncodeForInpaint(pixels=torch.rand(1, 70, 60, 3), vae=vae, mask=mask, grow_mask_by=0).run(ctx)
    assert latent["samples"].shape == (1, 4, 8, 7)
    assert torch.equal(latent["noise_mask"][0, 0], mask[0, 3:67, 2:58])


def test_tiled_vae_nodes_work_in_tiles_no_larger_than_tile_size(ctx_for, monkeypatch):
    ctx = ctx_for()
    _, _, vae = CheckpointLoaderSimple(ckpt_name="v1-5-pruned-emaonly.safetensors").run(ctx)
    pieces = []
    for method in ("decode", "encode"):
        real = getattr(AutoencoderKL, method)
        monkeypatch.setattr(AutoencoderKL, method,
                            lambda self, x, real=real: pieces.append(x.shape[-2:]) or real(self, x))

    (image,) = VAEDecodeTiled(samples={"samples": torch.randn(1, 4, 16, 16)}, vae=vae, tile_size=64).run(ctx)
    assert image.shape == (1, 128, 128, 3)
    assert len(pieces) > 1 and all(h <= 64 // 8 and w <= 64 // 8 for h, w in pieces)
    pieces.clear()
    (latent,) = VAEEncodeTiled(pixels=torch.rand(1, 128, 128, 3), vae=vae, tile_size=64).run(ctx)
    assert latent["samples"].shape == (1, 4, 16, 16)
    assert len(pieces) > 1 and all(h <= 64 and w <= 64 for h, w in pieces)
