"""The workflow the canvas e2e test builds from an empty canvas, as data: nodes to drag in (with widget
values to type) and links to draw. Switching the test to another workflow means editing only this table."""

BUILD_FLOW = {
    # (class_type, {widget: value}) in placement order; node ids become 1, 2, 3... on an empty canvas
    "nodes": [
        ("EmptyImage", {"width": 64, "height": 48, "color": 3368652}),
        ("ImageInvert", {}),
        ("SaveImage", {"filename_prefix": "e2e_canvas"}),
    ],
    # (from node index, output slot, to node index, input name)
    "links": [
        (0, 0, 1, "image"),
        (1, 0, 2, "images"),
    ],
    # the node whose output image the test waits for
    "output_node": 2,
}

# an output and an input whose types do not match: ((class_type, output slot), (class_type, input name))
REFUSED_LINK = (("EmptyImage", 0), ("VAEDecode", "samples"))

# a node queued alone whose required socket input is left empty: (class_type, input name)
MISSING_INPUT = ("SaveImage", "images")
