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
