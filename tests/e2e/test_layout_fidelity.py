"""A loaded ComfyUI workflow keeps its layout in a real Chromium: stored node sizes are honoured (no node drawn
narrower or shorter than saved, none overlapping), and no node shows an image from an earlier, different graph."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tests.e2e.canvas_driver import connect, drag_from_palette, drop_file, node, saved_workflow, set_widget
from tests.needs import need_module

pytestmark = pytest.mark.e2e


def _template(name: str) -> Path:
    templates = need_module("comfyui_workflow_templates", "pip install -e '.[comfyui-frontend]'")
    return Path(templates.__file__).parent / "templates" / f"{name}.json"


def _boxes(page) -> dict[str, dict]:
    nodes = page.locator(".react-flow__node-loom")
    return {n.get_attribute("data-id"): n.bounding_box() for n in nodes.all()}


def _overlap(a: dict, b: dict) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


@pytest.mark.parametrize("name", ["default", "image2image", "lora"])
def test_stored_sizes_are_kept_and_nodes_do_not_overlap(page, artifacts, name):
    path = _template(name)
    stored = {n["id"]: n["size"] for n in json.loads(path.read_text())["nodes"]}
    drop_file(page, path, "application/json")
    page.locator(".react-flow__node-loom").nth(len(stored) - 1).wait_for()
    page.locator(".missing-models button", has_text="Close").click()
    page.screenshot(path=artifacts / f"layout_{name}.png")
    sizes = {n["id"]: n["size"] for n in saved_workflow(page)["nodes"]}
    for node_id, (width, height) in stored.items():
        assert sizes[node_id][0] == round(width), f"node {node_id} width {sizes[node_id][0]} != stored {width}"
        assert sizes[node_id][1] >= round(height), f"node {node_id} drawn shorter than stored"
    boxes = _boxes(page)
    clashes = [(a, b) for a, b in itertools.combinations(sorted(boxes), 2) if _overlap(boxes[a], boxes[b])]
    assert clashes == []
    page.reload()
    page.wait_for_selector(".palette-entry")
    page.locator(".react-flow__node-loom").nth(len(stored) - 1).wait_for()
    page.evaluate("new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert {n["id"]: n["size"] for n in saved_workflow(page)["nodes"]} == sizes, "sizes stay put across reloads"


def _image_graph(page) -> None:
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 80, box["y"] + 80)
    drag_from_palette(page, "SaveImage", box["x"] + 480, box["y"] + 80)
    set_widget(page, 1, "width", 32)
    set_widget(page, 1, "height", 32)
    connect(page, 1, 0, 2, "images")


def test_a_cleared_canvas_never_shows_the_old_graphs_images(page, artifacts):
    _image_graph(page)
    page.locator("button.queue-button").click()
    node(page, 2).locator(".node-image.output").wait_for(timeout=60_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("button", has_text="Clear").click()
    page.locator(".react-flow__node-loom").first.wait_for(state="detached")
    _image_graph(page)
    page.screenshot(path=artifacts / "after_clear.png")
    assert [n["id"] for n in saved_workflow(page)["nodes"]] == [1, 2], "the new graph reuses the ids"
    assert node(page, 2).locator(".node-image").count() == 0
