"""InpaintModelConditioning, InstructPixToPixConditioning, SD_4XUpscale_Conditioning, CLIPTextEncodeControlnet
and T5TokenizerOptions set what ComfyUI's models read; inpainting (9-channel) and InstructPix2Pix (8-channel)
UNets sample with it, and say which node they need without it. Oracles: VAEEncode of the hand-masked
image, torch's own bilinear resize, CLIPTextEncode's output."""

import numpy as np
import torch
import torch.nn.functional as F

from nodes.conditioning_models import SD_4XUpscale_Conditioning

LOADER = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "plain.safetensors"}}
IMAGE = {"class_type": "LoadImage", "inputs": {"image": "source.png"}}
TEXT = {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["1", 1]}}


def _mask_prompt(loom) -> dict:
    """Loader, image, prompt, and a mask: the 32 x 32 transparent square of holed.png."""
    loom.put_input_image("holed.png", alpha_hole=True)
    return {"1": LOADER, "2": IMAGE, "3": TEXT,
            "4": {"class_type": "LoadImageMask", "inputs": {"image": "holed.png", "channel": "alpha"}}}


def _captured(result, node_id: str):
    return result.outputs[node_id]["conditioning"][0]


def test_inpaint_model_conditioning_encodes_the_image_and_the_grey_masked_image(loom):
    prompt = _mask_prompt(loom) | {
        "5": {"class_type": "InpaintModelConditioning", "inputs": {
            "positive": ["3", 0], "negative": ["3", 0], "vae": ["1", 2], "pixels": ["2", 0], "mask": ["4", 0],
            "noise_mask": True}},
        "6": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
        "c1": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["5", 0]}},
        "c2": {"class_type": "CaptureLatent", "inputs": {"samples": ["5", 2]}},
        "c3": {"class_type": "CaptureLatent", "inputs": {"samples": ["6", 0]}},
        "c4": {"class_type": "CaptureLatent", "inputs": {"samples": ["7", 0]}},
        "7": {"class_type": "VAEEncode", "inputs": {"pixels": ["8", 0], "vae": ["1", 2]}},
        "8": {"class_type": "ImageCompositeMasked", "inputs": {
            "destination": ["2", 0], "source": ["9", 0], "x": 0, "y": 0, "resize_source": False, "mask": ["4", 0]}},
        "9": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0x808080}},
    }
    result = loom.run(prompt)
    (_, options), = _captured(result, "c1")
    latent = result.outputs["c2"]["latent"][0]
    assert torch.equal(latent["samples"], result.outputs["c3"]["latent"][0]["samples"])
    assert latent["noise_mask"].shape == (1, 1, 64, 64) and latent["noise_mask"].sum() == 32 * 32
    assert torch.equal(options["concat_mask"], latent["noise_mask"])
    grey = result.outputs["c4"]["latent"][0]["samples"]  # the hole filled with 128/255, not exactly 0.5
    assert options["concat_latent_image"].shape == grey.shape
    assert (options["concat_latent_image"] - grey).abs().max() < 0.05


def test_inpainting_unet_samples_with_the_mask_and_asks_for_the_node_without_it(loom):
    prompt = _mask_prompt(loom) | {
        "5": {"class_type": "InpaintModelConditioning", "inputs": {
            "positive": ["3", 0], "negative": ["3", 0], "vae": ["1", 2], "pixels": ["2", 0], "mask": ["4", 0],
            "noise_mask": False}},
        "6": {"class_type": "KSampler", "inputs": {
            "seed": 1, "steps": 2, "cfg": 4.0, "sampler_name": "euler", "scheduler": "normal", "denoise": 1.0,
            "model": ["1", 0], "positive": ["5", 0], "negative": ["5", 1], "latent_image": ["5", 2]}},
        "c": {"class_type": "CaptureLatent", "inputs": {"samples": ["6", 0]}},
    }
    prompt["1"]["inputs"]["ckpt_name"] = "inpainting.safetensors"
    first = loom.run(prompt).outputs["c"]["latent"][0]["samples"]
    assert first.shape == (1, 4, 8, 8) and torch.isfinite(first).all()
    prompt["5"]["inputs"]["pixels"] = ["9", 0]
    prompt["9"] = {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0}}
    assert not torch.equal(loom.run(prompt).outputs["c"]["latent"][0]["samples"], first)
    prompt["6"]["inputs"].update(positive=["3", 0], negative=["3", 0])
    result = loom.executor.run(prompt, sink=loom.events)
    assert result.status != "success" and "InpaintModelConditioning" in str(result.error)


def test_instruct_pix2pix_starts_from_zeros_and_its_unet_takes_the_image(loom):
    prompt = {"1": LOADER, "2": IMAGE, "3": TEXT,
              "5": {"class_type": "InstructPixToPixConditioning", "inputs": {
                  "positive": ["3", 0], "negative": ["3", 0], "vae": ["1", 2], "pixels": ["2", 0]}},
              "6": {"class_type": "KSampler", "inputs": {
                  "seed": 1, "steps": 2, "cfg": 4.0, "sampler_name": "euler", "scheduler": "normal",
                  "denoise": 1.0, "model": ["1", 0], "positive": ["5", 0], "negative": ["5", 1],
                  "latent_image": ["5", 2]}},
              "7": {"class_type": "VAEEncode", "inputs": {"pixels": ["2", 0], "vae": ["1", 2]}},
              "c1": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["5", 1]}},
              "c2": {"class_type": "CaptureLatent", "inputs": {"samples": ["7", 0]}},
              "c3": {"class_type": "CaptureLatent", "inputs": {"samples": ["6", 0]}}}
    prompt["1"]["inputs"]["ckpt_name"] = "ip2p.safetensors"
    result = loom.run(prompt)
    (_, options), = _captured(result, "c1")
    assert torch.equal(options["concat_latent_image"], result.outputs["c2"]["latent"][0]["samples"])
    assert torch.isfinite(result.outputs["c3"]["latent"][0]["samples"]).all()


def test_sd_4x_upscale_conditioning_holds_the_quarter_size_image_and_an_empty_latent():
    images = torch.rand(2, 20, 28, 3, generator=torch.Generator().manual_seed(0))
    cond = [[torch.zeros(1, 77, 8), {"pooled_output": torch.ones(1, 8)}]]
    positive, negative, latent = SD_4XUpscale_Conditioning(
        images=images, positive=cond, negative=cond, scale_ratio=2.0, noise_augmentation=0.3).run(None)
    expected = F.interpolate(images.movedim(-1, 1) * 2 - 1, size=(10, 14), mode="bilinear")
    for side in (positive, negative):
        assert torch.equal(side[0][1]["concat_image"], expected) and side[0][1]["noise_augmentation"] == 0.3
        assert torch.equal(side[0][1]["pooled_output"], torch.ones(1, 8))
    assert torch.equal(latent["samples"], torch.zeros(2, 4, 10, 14))


def test_controlnet_text_rides_on_the_conditioning_and_t5_options_leave_clip_alone(loom):
    other = {"class_type": "CLIPTextEncode", "inputs": {"text": "a dog", "clip": ["10", 0]}}
    prompt = {"1": LOADER, "3": TEXT, "4": other,
              "10": {"class_type": "T5TokenizerOptions", "inputs": {"clip": ["1", 1], "min_padding": 3,
                                                                    "min_length": 5}},
              "5": {"class_type": "CLIPTextEncodeControlnet", "inputs": {
                  "clip": ["1", 1], "conditioning": ["3", 0], "text": "a dog"}},
              "c1": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["5", 0]}},
              "c2": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["4", 0]}},
              "c3": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["3", 0]}}}
    result = loom.run(prompt)
    (embedding, options), = _captured(result, "c1")
    (dog, dog_options), = _captured(result, "c2")
    (cat, _), = _captured(result, "c3")
    assert torch.equal(embedding, cat)
    assert torch.equal(options["cross_attn_controlnet"], dog)
    assert torch.equal(options["pooled_output_controlnet"], dog_options["pooled_output"])
    assert not np.array_equal(dog.numpy(), cat.numpy())



def test_timesteps_range_splits_the_schedule_and_hooks_of_another_type_are_refused_by_name():
    import pytest

    from nodes.conditioning_props import ConditioningSetProperties, ConditioningTimestepsRange

    assert ConditioningTimestepsRange(start_percent=0.2, end_percent=0.7).run(None) == ((0.2, 0.7), (0.0, 0.2),
                                                                                         (0.7, 1.0))
    node = ConditioningSetProperties(cond_NEW=[[torch.zeros(1, 77, 8), {}]], strength=1.0, set_cond_area="default",
                                     hooks=object())
    with pytest.raises(TypeError, match="ConditioningSetProperties: input 'hooks' must be HOOKS"):
        node.run(None)
