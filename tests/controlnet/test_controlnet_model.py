"""The ControlNet network and its file layouts: residuals equal diffusers' ControlNetModel on the same
weights, and the three layouts real files use load to the same tensors."""

import pytest
import torch
from safetensors.torch import save_file

from engine.models.blocks import timestep_embedding
from engine.models.checkpoint import open_checkpoint
from engine.models.controlnet import ControlNetModel, controlnet_weights, infer_controlnet_config
from engine.models.detect import UnsupportedCheckpoint
from tests.fixtures.checkpoints import TINY_UNETS
from tests.fixtures.controlnet_files import (
    HINT_WIDTHS,
    diffusers_controlnet_config,
    diffusers_controlnet_state_dict,
    save_cldm,
    save_diffusers,
    tiny_controlnet_state_dict,
)


@pytest.mark.parametrize("family", ["sd15", "sd21v", "sdxl"])
def test_residuals_equal_diffusers_controlnet_on_the_same_weights(family):
    from diffusers import ControlNetModel as DiffusersControlNet

    weights = tiny_controlnet_state_dict(family)
    config = infer_controlnet_config(weights)
    ours = ControlNetModel(config).eval()
    ours.load_state_dict(weights)
    theirs = DiffusersControlNet(**diffusers_controlnet_config(TINY_UNETS[family])).eval()
    theirs.load_state_dict(diffusers_controlnet_state_dict(family))

    gen = torch.Generator().manual_seed(5)
    x, hint = torch.randn(2, 4, 8, 8, generator=gen), torch.rand(2, 3, 64, 64, generator=gen)
    t, context = torch.tensor([800.0, 35.0]), torch.randn(2, 7, config.unet.context_dim, generator=gen)
    extra, y = {}, None
    if config.unet.adm_in_channels:
        pooled = torch.randn(2, 32, generator=gen)
        sizes = torch.tensor([[64.0, 64.0, 0.0, 0.0, 64.0, 64.0]] * 2)
        extra = {"added_cond_kwargs": {"text_embeds": pooled, "time_ids": sizes}}
        y = torch.cat([pooled, timestep_embedding(sizes.flatten(), 256).reshape(2, -1)], dim=1)
    with torch.no_grad():
        residuals = ours(x, hint, t, context, y)
        down, mid = theirs(x, t, context, hint, return_dict=False, **extra)

    assert len(residuals["output"]) == len(down)
    for a, b in zip(residuals["output"], down):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(residuals["middle"][0], mid, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_bare_prefixed_pth_and_diffusers_files_load_the_same_tensors(tmp_path, family):
    expected = tiny_controlnet_state_dict(family)
    files = [save_cldm(family, tmp_path / "control_v11p_canny.pth", prefixed=True),
             save_cldm(family, tmp_path / "bare_canny.safetensors", prefixed=False),
             save_diffusers(family, tmp_path / "diffusion_pytorch_model.safetensors")]
    for path in files:
        weights = controlnet_weights(open_checkpoint(path))
        assert set(weights) == set(expected), path.name
        assert all(torch.equal(weights[k], expected[k]) for k in expected), path.name
        config = infer_controlnet_config(weights)
        assert config.hint_widths == HINT_WIDTHS
        assert config.unet.context_dim == TINY_UNETS[family].context_dim
        assert config.unet.adm_in_channels == TINY_UNETS[family].adm_in_channels


def test_full_controlnet_1_0_file_loads_only_the_control_model(tmp_path):
    from tests.fixtures.checkpoints import tiny_checkpoint_state_dict

    sd = tiny_checkpoint_state_dict("sd15")
    sd |= {"control_model." + k: v for k, v in tiny_controlnet_state_dict("sd15").items()}
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "control_sd15_canny.safetensors"))
    weights = controlnet_weights(open_checkpoint(tmp_path / "control_sd15_canny.safetensors"))
    assert set(weights) == set(tiny_controlnet_state_dict("sd15"))


def test_a_file_that_is_not_a_controlnet_says_so(tmp_path):
    save_file({"lora_unet_x.lora_up.weight": torch.zeros(2, 2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(UnsupportedCheckpoint, match="not a ControlNet"):
        controlnet_weights(open_checkpoint(tmp_path / "x.safetensors"))
