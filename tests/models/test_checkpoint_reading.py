"""Reading files: wrappers stripped, EMA/DDPM buffers hidden, lazy access, and clear errors for files
that are not full checkpoints."""

import json

import pytest
import torch
from safetensors.torch import save_file

from engine.models.checkpoint import CheckpointError, load_weights, open_checkpoint, read_state_dict
from engine.models.detect import UnsupportedCheckpoint, detect_checkpoint, detect_file
from engine.models.unet import UNetModel
from tests.fixtures.checkpoints import tiny_checkpoint_state_dict


@pytest.fixture(scope="module")
def sd15():
    return tiny_checkpoint_state_dict("sd15")


def test_ckpt_wrappers_ema_and_ddpm_buffers_are_removed(tmp_path, sd15):
    wrapped = {f"module.{k}": v for k, v in sd15.items()}
    wrapped["module.model_ema.decay"] = torch.tensor(0.999)
    wrapped["module.model_ema.diffusion_modelinput_blocks00weight"] = torch.zeros(1)
    wrapped["module.alphas_cumprod"] = torch.ones(1000)
    wrapped["module.logvar"] = torch.zeros(1000)
    path = tmp_path / "wrapped.ckpt"
    torch.save({"state_dict": wrapped, "global_step": 10}, path)
    assert read_state_dict(path).keys() == sd15.keys()
    assert detect_file(path)[0].family == "sd1"


def test_safetensors_are_read_lazily_with_shapes_and_metadata(tmp_path, sd15):
    path = tmp_path / "model.safetensors"
    save_file(sd15, str(path), metadata={"modelspec.prediction_type": "v"})
    checkpoint = open_checkpoint(path)
    unet_part = checkpoint.with_prefix("model.diffusion_model.")
    assert checkpoint.shapes()["model.diffusion_model.input_blocks.0.0.weight"] == (32, 4, 3, 3)
    assert torch.equal(unet_part["out.2.bias"], sd15["model.diffusion_model.out.2.bias"])
    config = detect_checkpoint(checkpoint)
    assert (config.prediction_type, config.prediction_source) == ("v", "metadata")


def test_v_pred_marker_key_selects_v_prediction(sd15):
    config = detect_checkpoint({**sd15, "v_pred": torch.zeros(())})
    assert (config.prediction_type, config.prediction_source) == ("v", "marker key")


def test_sd2_eps_model_is_told_apart_from_v_by_its_weights():
    checkpoint = tiny_checkpoint_state_dict("sd21v")
    key = "model.diffusion_model.output_blocks.3.1.transformer_blocks.0.norm1.bias"
    assert detect_checkpoint(checkpoint).prediction_type == "v"
    checkpoint[key] = checkpoint[key] * 0.1
    assert detect_checkpoint(checkpoint).prediction_type == "eps"


def _keys(sd: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda sd: {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": [4, 320]}, "LoRA"),
        (lambda sd: {"control_model.zero_convs.0.0.weight": [320, 320, 1, 1]}, "ControlNet"),
        (lambda sd: _keys(sd, "first_stage_model."), "VAELoader"),
        (lambda sd: _keys(sd, "model.diffusion_model."), "UNet only"),
        (lambda sd: {k: v for k, v in sd.items() if k.startswith("model.")}, "UNet only"),
    ],
)
def test_non_checkpoints_are_named(sd15, make, message):
    with pytest.raises(UnsupportedCheckpoint, match=message):
        detect_checkpoint(make(sd15))


def test_diffusers_layout_unet_is_named(manifest):
    with pytest.raises(UnsupportedCheckpoint, match="diffusers-layout UNet"):
        detect_checkpoint(manifest("diffusers_unet_sd15")["tensors"])


def test_unknown_suffix_and_broken_files_name_the_file(tmp_path):
    with pytest.raises(CheckpointError, match="notes.txt"):
        open_checkpoint(tmp_path / "notes.txt")
    broken = tmp_path / "broken.safetensors"
    broken.write_text(json.dumps({"not": "a checkpoint"}))
    with pytest.raises(CheckpointError, match="broken.safetensors"):
        open_checkpoint(broken)


def test_load_weights_reports_missing_and_misshaped_keys(sd15):
    config = detect_checkpoint(sd15)
    unet_sd = _keys(sd15, "model.diffusion_model.")
    del unet_sd["out.2.bias"]
    unet_sd["out.2.weight"] = torch.zeros(4, 32, 1, 1)
    with pytest.raises(CheckpointError, match=r"UNet: .*1 missing \(e.g. out.2.bias\).*wrong shape"):
        load_weights(UNetModel(config.unet), unet_sd, "UNet")


class _Payload:
    """Stands in for arbitrary pickled code: weights_only loading must refuse it."""


def test_pickles_load_only_tensors_including_legacy_format(tmp_path):
    legacy = tmp_path / "legacy.pt"
    torch.save({"state_dict": {"w": torch.ones(2)}}, legacy, _use_new_zipfile_serialization=False)
    assert torch.equal(read_state_dict(legacy)["w"], torch.ones(2))
    unsafe = tmp_path / "unsafe.ckpt"
    torch.save({"w": torch.ones(2), "obj": _Payload()}, unsafe)
    with pytest.raises(CheckpointError, match="unsafe.ckpt: not loadable with torch.load\\(weights_only=True\\)"):
        open_checkpoint(unsafe)
