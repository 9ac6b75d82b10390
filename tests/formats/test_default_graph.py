"""ComfyUI's default text-to-image canvas graph converts, against Loom's real node registry, to the
API prompt the canvas would have queued (positional widget values land on the right inputs)."""

import pytest

from engine.graph.context import Services
from engine.graph.registry import build_default_registry
from engine.graph.ui_format import ui_to_api


def ui_node(id, type, inputs, outputs, widgets):
    return {"id": id, "type": type, "mode": 0, "flags": {}, "properties": {"Node name for S&R": type},
            "inputs": [{"name": n, "type": t, "link": link} for n, t, link in inputs],
            "outputs": [{"name": t, "type": t, "links": links} for t, links in outputs],
            "widgets_values": widgets}


DEFAULT_GRAPH = {
    "last_node_id": 9, "last_link_id": 9, "version": 0.4,
    "nodes": [
        ui_node(4, "CheckpointLoaderSimple", [], [("MODEL", [1]), ("CLIP", [3, 5]), ("VAE", [8])],
                ["v1-5-pruned-emaonly.safetensors"]),
        ui_node(6, "CLIPTextEncode", [("clip", "CLIP", 3)], [("CONDITIONING", [4])],
                ["beautiful scenery nature glass bottle landscape, purple galaxy bottle,"]),
        ui_node(7, "CLIPTextEncode", [("clip", "CLIP", 5)], [("CONDITIONING", [6])], ["text, watermark"]),
        ui_node(5, "EmptyLatentImage", [], [("LATENT", [2])], [512, 512, 1]),
        ui_node(3, "KSampler", [("model", "MODEL", 1), ("positive", "CONDITIONING", 4),
                                ("negative", "CONDITIONING", 6), ("latent_image", "LATENT", 2)],
                [("LATENT", [7])], [156680208700286, "randomize", 20, 8, "euler", "normal", 1]),
        ui_node(8, "VAEDecode", [("samples", "LATENT", 7), ("vae", "VAE", 8)], [("IMAGE", [9])], []),
        ui_node(9, "SaveImage", [("images", "IMAGE", 9)], [], ["ComfyUI"]),
    ],
    "links": [[1, 4, 0, 3, 0, "MODEL"], [2, 5, 0, 3, 3, "LATENT"], [3, 4, 1, 6, 0, "CLIP"],
              [4, 6, 0, 3, 1, "CONDITIONING"], [5, 4, 1, 7, 0, "CLIP"], [6, 7, 0, 3, 2, "CONDITIONING"],
              [7, 3, 0, 8, 0, "LATENT"], [8, 4, 2, 8, 1, "VAE"], [9, 8, 0, 9, 0, "IMAGE"]],
}


@pytest.fixture(scope="module")
def registry():
    reg, _ = build_default_registry(Services())
    return reg


def test_default_graph_widgets_land_on_the_declared_inputs(registry):
    api = ui_to_api(DEFAULT_GRAPH, registry)
    assert api["3"]["inputs"] == {
        "seed": 156680208700286, "steps": 20, "cfg": 8, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1, "model": ["4", 0], "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0]}
    assert api["4"]["inputs"] == {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}
    assert api["5"]["inputs"] == {"width": 512, "height": 512, "batch_size": 1}
    assert api["7"]["inputs"] == {"text": "text, watermark", "clip": ["4", 1]}
    assert api["8"]["inputs"] == {"samples": ["3", 0], "vae": ["4", 2]}
    assert api["9"]["inputs"] == {"images": ["8", 0], "filename_prefix": "ComfyUI"}
