"""Workflows the canvas e2e test builds from an empty canvas, as data: nodes to drag in (grid cell and
widget values to type) and links to draw. Adding or changing a flow means editing only this table."""

IMAGE_FLOW = {
    # (class_type, (column, row), {widget: value}) in placement order; node ids become 1, 2, 3...
    "nodes": [
        ("EmptyImage", (0, 0), {"width": 64, "height": 48, "color": "#3366cc"}),
        ("ImageInvert", (1, 1), {}),
        ("SaveImage", (2, 0), {"filename_prefix": "e2e_canvas"}),
    ],
    # (from node index, output slot, to node index, input name)
    "links": [(0, 0, 1, "image"), (1, 0, 2, "images")],
    "output_node": 2,  # the node whose image the test waits for
    "zoom_out": 0,  # clicks on the zoom-out control before placing, so the whole flow fits
}

TINY_CHECKPOINT = "tiny_sd15.safetensors"  # written into models/checkpoints by the server fixture
BROKEN_CHECKPOINT = "broken.safetensors"  # listed like any model, fails when loaded

TXT2IMG_FLOW = {
    "nodes": [
        ("CheckpointLoaderSimple", (0, 0), {"ckpt_name": TINY_CHECKPOINT}),
        ("CLIPTextEncode", (1, 0), {"text": "a red cube on a table"}),
        ("CLIPTextEncode", (1, 1), {"text": "blurry"}),
        ("EmptyLatentImage", (0, 1), {"width": 64, "height": 64}),
        ("KSampler", (2, 0), {"steps": 3}),
        ("VAEDecode", (3, 0), {}),
        ("SaveImage", (3, 1), {"filename_prefix": "e2e_txt2img"}),
    ],
    "links": [
        (0, 0, 4, "model"), (0, 1, 1, "clip"), (0, 1, 2, "clip"), (0, 2, 5, "vae"),
        (1, 0, 4, "positive"), (2, 0, 4, "negative"), (3, 0, 4, "latent_image"),
        (4, 0, 5, "samples"), (5, 0, 6, "images"),
    ],
    "output_node": 6,
    "zoom_out": 3,
}

WEBP_FLOW = {
    "nodes": [
        ("EmptyImage", (0, 0), {"width": 32, "height": 32, "batch_size": 2}),
        ("SaveAnimatedWEBP", (2, 0), {"filename_prefix": "e2e_webp", "lossless": True}),
    ],
    "links": [(0, 0, 1, "images")],
    "output_node": 1,
    "zoom_out": 0,
}

BUILD_FLOWS = {"image": IMAGE_FLOW, "txt2img": TXT2IMG_FLOW, "webp": WEBP_FLOW}

# an output and an input whose types do not match: ((class_type, output slot), (class_type, input name))
REFUSED_LINK = (("EmptyImage", 0), ("VAEDecode", "samples"))

# a node queued alone whose required socket input is left empty: (class_type, input name)
MISSING_INPUT = ("SaveImage", "images")
