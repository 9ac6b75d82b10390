"""T2I-Adapters: features equal diffusers' T2IAdapter on the same weights in both file layouts, and an
adapter steers sampling through the ControlNet nodes (features made once per run)."""

import pytest
import torch
from safetensors.torch import save_file

from engine.models.checkpoint import open_checkpoint
from engine.models.t2i_adapter import T2IAdapter, adapter_weights, check_adapter_fits, infer_adapter_config
from tests.controlnet.canny_prompts import canny_prompt, latent, without_control
from tests.fixtures.checkpoints import TINY_UNETS
from tests.fixtures.controlnet_files import save_t2i_original, tiny_t2i_adapter
from tests.fixtures.steering_models import SD15_T2I


@pytest.mark.parametrize("hint_channels", [1, 3])
def test_features_equal_diffusers_t2i_adapter_from_either_layout(tmp_path, hint_channels):
    theirs = tiny_t2i_adapter(hint_channels)
    save_file({k: v.contiguous() for k, v in theirs.state_dict().items()}, str(tmp_path / "diffusers.safetensors"))
    save_t2i_original(tmp_path / "original.pth", hint_channels)
    hint = torch.rand(2, hint_channels, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = theirs(hint)
    for name in ("diffusers.safetensors", "original.pth"):
        weights = adapter_weights(open_checkpoint(tmp_path / name))
        ours = T2IAdapter(infer_adapter_config(weights.shapes())).eval()
        ours.load_state_dict(dict(weights))
        with torch.no_grad():
            features = ours(hint)
        assert len(features) == len(expected)
        for a, b in zip(features, expected):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_adapter_steers_sampling_and_strength_0_changes_nothing(loom, monkeypatch):
    calls = []
    real = T2IAdapter.forward
    monkeypatch.setattr(T2IAdapter, "forward", lambda self, hint: calls.append(hint.shape) or real(self, hint))
    prompt = canny_prompt(loom)
    prompt["13"]["inputs"]["control_net_name"] = SD15_T2I
    adapted = latent(loom, prompt)
    assert len(calls) == 1  # the hint's features do not depend on the step
    plain = latent(loom, without_control(canny_prompt(loom)))
    assert not torch.allclose(adapted, plain, atol=1e-4)
    prompt["14"]["inputs"]["strength"] = 0.0
    assert torch.equal(latent(loom, prompt), plain)


def test_adapter_for_other_level_widths_is_refused():
    config = infer_adapter_config(adapter_weights(tiny_t2i_adapter().state_dict()).shapes())
    check_adapter_fits(config, TINY_UNETS["sd15"])
    with pytest.raises(ValueError, match=r"level widths \(32, 64\) but the model is .* widths \(32, 64, 64\)"):
        check_adapter_fits(config, TINY_UNETS["sdxl_refiner"])


def test_adapter_chained_after_a_controlnet_adds_both(loom):
    prompt = canny_prompt(loom)
    controlnet_only = latent(loom, prompt)
    prompt["16"] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": SD15_T2I}}
    prompt["15"] = {"class_type": "ControlNetApplyAdvanced", "inputs": {
        "positive": ["14", 0], "negative": ["14", 1], "control_net": ["16", 0], "image": ["12", 0],
        "strength": 1.0, "start_percent": 0.0, "end_percent": 1.0}}
    prompt["3"]["inputs"].update(positive=["15", 0], negative=["15", 1])
    both = latent(loom, prompt)
    prompt["15"]["inputs"]["strength"] = 0.0
    assert torch.equal(latent(loom, prompt), controlnet_only)
    assert not torch.allclose(both, controlnet_only, atol=1e-4)


def test_adapter_given_to_the_checkpoint_loader_is_named(tmp_path):
    from engine.models.detect import UnsupportedCheckpoint, detect_file

    with pytest.raises(UnsupportedCheckpoint, match="T2I-Adapter: load it with ControlNetLoader"):
        detect_file(save_t2i_original(tmp_path / SD15_T2I))
