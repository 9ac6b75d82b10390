"""comfy.utils, node_helpers and nodes' mappings as packs call them (after the pack loader installed the shims)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file


@pytest.fixture(autouse=True)
def shims(loaded):
    return loaded


def test_common_upscale_resizes_channels_first_samples():
    import comfy.utils

    samples = torch.rand(2, 3, 8, 12)
    out = comfy.utils.common_upscale(samples, 6, 4, "bilinear", "disabled")
    assert out.shape == (2, 3, 4, 6)
    cropped = comfy.utils.common_upscale(samples, 4, 4, "nearest-exact", "center")
    assert torch.equal(cropped, samples[..., :, 2:10][..., 1::2, 1::2])


def test_load_torch_file_reads_tensors_and_metadata(tmp_path):
    import comfy.utils

    path = tmp_path / "weights.safetensors"
    save_file({"w": torch.arange(4.0)}, str(path), metadata={"format": "pt"})
    tensors, metadata = comfy.utils.load_torch_file(str(path), safe_load=True, return_metadata=True)
    assert torch.equal(tensors["w"], torch.arange(4.0)) and metadata == {"format": "pt"}


def test_conditioning_set_values_copies_each_pair():
    import node_helpers

    cond = [[torch.zeros(1), {"strength": 1.0}]]
    updated = node_helpers.conditioning_set_values(cond, {"strength": 0.5, "mask": "m"})
    assert updated[0][1] == {"strength": 0.5, "mask": "m"} and cond[0][1] == {"strength": 1.0}


def test_nodes_module_exposes_the_registry_to_packs(loaded):
    import nodes

    assert nodes.NODE_CLASS_MAPPINGS["CompatAdd"] is loaded.registry.get("CompatAdd").cls
    assert nodes.NODE_DISPLAY_NAME_MAPPINGS["CompatCount"] == "Count (compat)"
    assert "NotANode" not in nodes.NODE_CLASS_MAPPINGS
    assert nodes.MAX_RESOLUTION == 16384 and callable(nodes.common_ksampler)
    with pytest.raises(AttributeError, match="NotAComfyName"):
        nodes.NotAComfyName  # noqa: B018 - the attribute access is the test


def test_bislerp_keeps_channel_vector_norms_where_bilinear_shrinks_them():
    import comfy.utils

    samples = torch.zeros(1, 2, 1, 2)
    samples[0, 0, 0, 0] = 1.0  # left pixel points along channel 0, right pixel along channel 1
    samples[0, 1, 0, 1] = 1.0
    assert torch.equal(comfy.utils.bislerp(samples, 2, 1), samples)
    wide = comfy.utils.common_upscale(samples, 4, 1, "bislerp", "disabled")
    norms = wide[0].norm(dim=0)[0]
    torch.testing.assert_close(norms, torch.ones(4), rtol=0, atol=1e-6)
    bilinear = comfy.utils.common_upscale(samples, 4, 1, "bilinear", "disabled")[0].norm(dim=0)[0]
    assert bilinear[1] < 0.95 and bilinear[2] < 0.95


def test_tiled_scale_equals_the_function_on_the_whole_image_for_a_pointwise_upscale():
    import comfy.utils

    image = torch.rand(2, 3, 40, 56)

    def upscale(tile):
        return torch.nn.functional.interpolate(tile, scale_factor=2, mode="nearest")

    tiled = comfy.utils.tiled_scale(image, upscale, tile_x=16, tile_y=16, overlap=4, upscale_amount=2)
    torch.testing.assert_close(tiled, upscale(image), rtol=0, atol=1e-6)


def test_model_sampling_classes_combined_the_comfyui_way_take_the_mixins_prediction():
    import comfy.model_sampling as ms
    from comfy_extras.nodes_model_advanced import LCM

    class VSampling(ms.ModelSamplingDiscrete, ms.V_PREDICTION):
        pass

    class LCMSampling(ms.ModelSamplingDiscrete, LCM):
        pass

    x, out, sigma = torch.ones(1, 4, 2, 2), torch.full((1, 4, 2, 2), 0.5), torch.tensor([2.0])
    v = VSampling().calculate_denoised(sigma, out, x)
    torch.testing.assert_close(v, x / 5 - out * 2 / 5 ** 0.5)  # v-prediction with sigma_data 1
    lcm = LCMSampling()
    t = lcm.timestep(sigma) * 10.0
    c_skip, c_out = 0.25 / (t ** 2 + 0.25), t / (t ** 2 + 0.25) ** 0.5
    torch.testing.assert_close(lcm.calculate_denoised(sigma, out, x), c_out * (x - out * 2) + c_skip * x)
