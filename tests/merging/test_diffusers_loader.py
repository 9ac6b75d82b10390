"""DiffusersLoader reads a diffusers-format folder: UNet and text encoder rewritten from the tiny SD1.5
checkpoint sample exactly like the checkpoint itself, and the VAE decodes like diffusers' own AutoencoderKL
(the oracle: diffusers' decode of the same latent, 1e-5)."""

import json

import torch
from safetensors.torch import save_file

from engine.models.detect import infer_unet_config
from engine.models.diffusers_names import block_map, ldm_to_diffusers
from tests.merging.conftest import PAIRS, captured, sample_prompt


def _diffusers_folder(root, checkpoint: dict):
    """unet/, text_encoder/ from the checkpoint, vae/ from a seeded diffusers AutoencoderKL (returned)."""
    from diffusers import AutoencoderKL

    prefix = "model.diffusion_model."
    unet = {k[len(prefix):]: v for k, v in checkpoint.items() if k.startswith(prefix)}
    blocks = block_map(infer_unet_config(unet))
    parts = {
        "unet/diffusion_pytorch_model.safetensors": {ldm_to_diffusers(k, blocks): v for k, v in unet.items()},
        "text_encoder/model.safetensors": {k[len("cond_stage_model.transformer."):]: v for k, v in checkpoint.items()
                                           if k.startswith("cond_stage_model.transformer.")},
    }
    torch.manual_seed(0)
    vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                        block_out_channels=(32, 64), layers_per_block=1, latent_channels=4).eval()
    parts["vae/diffusion_pytorch_model.safetensors"] = vae.state_dict()
    for name, tensors in parts.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(root / name))
    (root / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    (root / "scheduler").mkdir()
    (root / "scheduler" / "scheduler_config.json").write_text(json.dumps({"prediction_type": "epsilon"}))
    return vae


def test_diffusers_folder_samples_like_its_checkpoint_and_decodes_like_diffusers(loom, source, tmp_path):
    name = PAIRS["sd15"][0]
    loom.folders.add_model_folder("diffusers", tmp_path / "diffusers")
    vae = _diffusers_folder(tmp_path / "diffusers" / "tiny-sd15", source(name))
    reference = captured(loom.run({"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": name}}}
                                  | sample_prompt(["1", 0], ["1", 1])))
    prompt = {"1": {"class_type": "DiffusersLoader", "inputs": {"model_path": "tiny-sd15"}},
              "30": {"class_type": "VAEDecode", "inputs": {"samples": ["23", 0], "vae": ["1", 2]}},
              "31": {"class_type": "SaveImage", "inputs": {"images": ["30", 0], "filename_prefix": "d"}}}
    result = loom.run(prompt | sample_prompt(["1", 0], ["1", 1]))
    got = captured(result)
    assert torch.equal(got[1], reference[1]) and torch.equal(got[0], reference[0])
    decoded = torch.from_numpy(loom.image(result, "31")) / 255.0
    with torch.no_grad():
        expected = ((vae.decode(got[0]).sample + 1) / 2).clamp(0, 1)[0].permute(1, 2, 0)
    assert (decoded - expected).abs().max() <= 1.0 / 255.0 + 1e-5
