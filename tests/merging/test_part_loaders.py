"""UNETLoader, CLIPLoader, DualCLIPLoader, VAELoader and CheckpointLoader give the models a full checkpoint
gives: the parts saved by ModelSave / CLIPSave / VAESave (and a UNet rewritten in diffusers' layout)
reload and sample, encode and decode bit for bit like the checkpoint they came from."""

import pytest
import torch
from safetensors.torch import load_file, save_file

from engine.models.detect import infer_unet_config
from engine.models.diffusers_names import block_map, ldm_to_diffusers
from tests.merging.conftest import PAIRS, captured, sample_prompt

UNET = "model.diffusion_model."


def _save_parts(loom, family: str) -> None:
    """ModelSave, CLIPSave and VAESave of the family's first checkpoint into output/."""
    loom.run({
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": PAIRS[family][0]}},
        "2": {"class_type": "ModelSave",
              "inputs": {"model": ["1", 0], "filename_prefix": f"diffusion_models/{family}"}},
        "3": {"class_type": "CLIPSave", "inputs": {"clip": ["1", 1], "filename_prefix": f"clip/{family}"}},
        "4": {"class_type": "VAESave", "inputs": {"vae": ["1", 2], "filename_prefix": f"vae/{family}"}},
    })


def _reference(loom, family: str):
    loader = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": PAIRS[family][0]}}}
    return loom.run(loader | sample_prompt(["1", 0], ["1", 1], ["1", 2]))


def _unet_as(loom, family: str, layout: str) -> str:
    """The saved UNet rewritten bare (LDM names without prefix) or in diffusers' layout; its file name."""
    folder = loom.folders.output_dir / "diffusion_models"
    tensors = {k[len(UNET):]: v for k, v in load_file(str(folder / f"{family}_00001_.safetensors")).items()
               if k.startswith(UNET)}
    if layout == "diffusers":
        blocks = block_map(infer_unet_config(tensors))
        tensors = {ldm_to_diffusers(k, blocks): v for k, v in tensors.items()}
    save_file(tensors, str(folder / f"{family}_{layout}.safetensors"))
    return f"{family}_{layout}.safetensors"


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_saved_parts_reload_through_the_part_loaders_and_sample_identically(loom, family):
    _save_parts(loom, family)
    latent, embedding, options = captured(_reference(loom, family))
    clip_files = ([f"{family}_clip_l_00001_.safetensors"] if family == "sd15"
                  else [f"{family}_clip_g_00001_.safetensors", f"{family}_clip_l_00001_.safetensors"])
    if family == "sd15":
        clip_node = {"class_type": "CLIPLoader", "inputs": {"clip_name": clip_files[0], "type": "stable_diffusion"}}
    else:
        clip_node = {"class_type": "DualCLIPLoader",
                     "inputs": {"clip_name1": clip_files[1], "clip_name2": clip_files[0], "type": "sdxl"}}
    for unet_name in (f"{family}_00001_.safetensors", _unet_as(loom, family, "bare"),
                      _unet_as(loom, family, "diffusers")):
        prompt = {
            "1": {"class_type": "UNETLoader", "inputs": {"unet_name": unet_name, "weight_dtype": "default"}},
            "2": clip_node,
            "3": {"class_type": "VAELoader", "inputs": {"vae_name": f"{family}_00001_.safetensors"}},
        } | sample_prompt(["1", 0], ["2", 0], ["3", 0])
        reloaded = captured(loom.run(prompt))
        assert torch.equal(reloaded[1], embedding), unet_name
        assert torch.equal(reloaded[0], latent), unet_name
        if "pooled_output" in options:
            assert torch.equal(reloaded[2]["pooled_output"], options["pooled_output"])


def test_cliploader_refuses_a_family_loom_does_not_run_naming_node_and_type(loom):
    _save_parts(loom, "sd15")
    prompt = {"1": {"class_type": "CLIPLoader", "inputs": {"clip_name": "sd15_clip_l_00001_.safetensors",
                                                           "type": "sd3"}},
              "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "x", "clip": ["1", 0]}},
              "3": {"class_type": "CaptureConditioning", "inputs": {"conditioning": ["2", 0]}}}
    result = loom.executor.run(prompt, sink=loom.events)
    assert result.status != "success"
    assert "CLIPLoader" in str(result.error) and "'sd3'" in str(result.error)


def test_pixel_space_vae_round_trips_an_image(loom):
    loom.put_input_image("in.png")
    prompt = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "in.png"}},
        "2": {"class_type": "VAELoader", "inputs": {"vae_name": "pixel_space"}},
        "3": {"class_type": "VAEEncode", "inputs": {"pixels": ["1", 0], "vae": ["2", 0]}},
        "4": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["2", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "px"}},
        "5": {"class_type": "CaptureLatent", "inputs": {"samples": ["3", 0]}},
    }
    result = loom.run(prompt)
    samples = result.outputs["5"]["latent"][0]["samples"]
    assert samples.shape == (1, 3, 64, 64) and samples.min() >= -1.0 and samples.max() <= 1.0
    source = loom.image(loom.run({"1": prompt["1"], "9": {"class_type": "SaveImage", "inputs": {
        "images": ["1", 0], "filename_prefix": "src"}}}))
    assert abs(loom.image(result) - source).max() <= 1.0


def test_checkpoint_loader_takes_prediction_type_and_clip_skip_from_the_config(loom):
    configs = loom.folders.folders_for("configs")[0]
    configs.mkdir(parents=True, exist_ok=True)
    (configs / "v2-inference-v.yaml").write_text("model:\n  params:\n    parameterization: \"v\"\n")
    (configs / "v1-inference_clip_skip_2.yaml").write_text(
        "model:\n  params:\n    cond_stage_config:\n      params:\n        layer: \"hidden\"\n        layer_idx: -2\n")
    name = PAIRS["sd15"][0]
    skip = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": name}},
            "2": {"class_type": "CLIPSetLastLayer", "inputs": {"clip": ["1", 1], "stop_at_clip_layer": -2}}}
    expected = captured(loom.run(skip | sample_prompt(["1", 0], ["2", 0])))
    with_config = {"1": {"class_type": "CheckpointLoader",
                         "inputs": {"config_name": "v1-inference_clip_skip_2.yaml", "ckpt_name": name}}}
    got = captured(loom.run(with_config | sample_prompt(["1", 0], ["1", 1])))
    assert torch.equal(got[1], expected[1]) and torch.equal(got[0], expected[0])
    with_config["1"]["inputs"]["config_name"] = "v2-inference-v.yaml"
    as_v = captured(loom.run(with_config | sample_prompt(["1", 0], ["1", 1])))
    assert not torch.equal(as_v[0], expected[0])
