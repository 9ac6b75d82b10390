"""The example pack loads the way Loom loads any pack, and its two nodes do what they say."""

from pathlib import Path

import pytest
import torch

from engine.graph.packs import load_packs
from engine.graph.registry import NodeRegistry

PACKS = Path(__file__).resolve().parents[2] / "custom_nodes"


@pytest.fixture(scope="module")
def registry():
    reg = NodeRegistry()
    report = load_packs(reg, [PACKS])
    (pack,) = [p for p in report.packs if p.name == "example_pack"]
    assert pack.ok, pack.error
    assert sorted(pack.nodes) == ["ExamplePackBlend", "ImageGrayscale"]
    return reg


def call(registry, class_type, **inputs):
    definition = registry.get(class_type)
    return definition.call(definition.new_instance(), inputs, None)


def test_pack_nodes_are_listed_with_display_names(registry):
    info = registry.object_info_for("ExamplePackBlend")
    assert info["display_name"] == "Blend Images (example pack)"
    assert info["category"] == "example_pack"
    assert info["input"]["required"]["blend_factor"][1]["max"] == 1.0
    assert registry.object_info_for("ImageGrayscale")["display_name"] == "Grayscale Image"


def test_grayscale_has_equal_channels_with_luma(registry):
    image = torch.tensor([[[[1.0, 0.0, 0.0]]]])  # one red pixel
    (gray,) = call(registry, "ImageGrayscale", image=image, weights="rec709")
    assert gray.shape == (1, 1, 1, 3)
    assert torch.allclose(gray, torch.full((1, 1, 1, 3), 0.2126))


@pytest.mark.parametrize("mode,expected", [("normal", 0.2 * 0.4 + 0.6 * 0.6), ("multiply", 0.4 * 0.2 + 0.6 * 0.2 * 0.6),
                                           ("screen", 0.4 * 0.2 + 0.6 * (1 - 0.8 * 0.4)),
                                           ("difference", 0.4 * 0.2 + 0.6 * 0.4),
                                           ("soft_light", 0.4 * 0.2 + 0.6 * (0.2 + 0.2 * (0.448 - 0.2)))])
def test_blend_modes(registry, mode, expected):
    base, top = torch.full((1, 2, 2, 3), 0.2), torch.full((1, 4, 4, 3), 0.6)
    (out,) = call(registry, "ExamplePackBlend", image1=base, image2=top, blend_factor=0.6, blend_mode=mode)
    assert out.shape == (1, 2, 2, 3)  # image2 was resized to image1's size
    assert torch.allclose(out, torch.full_like(out, expected), atol=1e-6)
