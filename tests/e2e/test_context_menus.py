"""Right-click menus in a real Chromium, driven with the mouse: canvas (add node via search, Reroute, Note,
Primitive), node (widget <-> input, colour, pin, bypass, remove), link (insert Reroute, delete), group."""

from __future__ import annotations

import pytest

from tests.e2e.canvas_driver import connect, drag_from_palette, node, saved_workflow

pytestmark = pytest.mark.e2e

MIDPOINT_JS = """(path) => {
  const p = path.getPointAtLength(path.getTotalLength() / 2).matrixTransform(path.getScreenCTM());
  return [p.x, p.y];
}"""


def _menu_pick(page, *path: str) -> None:
    """Hover through sub-menus to the last label and click it, as a mouse user would."""
    menu = page.locator(".context-menu")
    menu.wait_for()
    for label in path[:-1]:
        menu.locator("button.has-sub", has_text=label).hover()
    menu.locator("button", has_text=path[-1]).last.click()
    menu.wait_for(state="detached")


def _right_click_pane(page, dx: float, dy: float) -> None:
    box = page.locator(".react-flow__pane").bounding_box()
    page.mouse.click(box["x"] + dx, box["y"] + dy, button="right")


def _types(page) -> list[str]:
    return [n["type"] for n in saved_workflow(page)["nodes"]]


def test_canvas_menu_adds_search_pick_reroute_note_and_primitive(page, artifacts):
    _right_click_pane(page, 150, 120)
    page.screenshot(path=artifacts / "canvas_context_menu.png")
    _menu_pick(page, "Add Node…")
    page.keyboard.type("invert")
    page.keyboard.press("Enter")
    node(page, 1).wait_for()
    for k, label in enumerate(["Add Reroute", "Add Note", "Add Primitive"]):
        _right_click_pane(page, 450, 100 + 150 * k)
        _menu_pick(page, label)
    assert _types(page) == ["ImageInvert", "Reroute", "Note", "PrimitiveNode"]
    note = node(page, 3).locator("textarea.note-text")
    note.click()
    page.keyboard.type("remember the seed")
    page.mouse.click(*_pane_corner(page))
    assert saved_workflow(page)["nodes"][2]["widgets_values"] == ["remember the seed"]


def _pane_corner(page) -> tuple[float, float]:
    box = page.locator(".react-flow__pane").bounding_box()
    return box["x"] + box["width"] - 60, box["y"] + box["height"] - 200


def test_node_menu_renames_converts_widget_colours_pins_bypasses_and_removes(page):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 150, box["y"] + 120)
    header = node(page, 1).locator(".node-header")
    header.click(button="right")
    _menu_pick(page, "Title")
    page.keyboard.press("Control+a")
    page.keyboard.type("Canvas size")
    page.keyboard.press("Enter")
    assert saved_workflow(page)["nodes"][0]["title"] == "Canvas size"
    header.click(button="right")
    _menu_pick(page, "Convert Widget to Input", "Convert width to input")
    node(page, 1).locator(".socket-row.in", has=page.locator('span:text-is("width")')).wait_for()
    assert [i["name"] for i in saved_workflow(page)["nodes"][0]["inputs"]] == ["width"]
    header.click(button="right")
    _menu_pick(page, "Convert Input to Widget", "Convert width to widget")
    assert saved_workflow(page)["nodes"][0]["inputs"] == []

    header.click(button="right")
    _menu_pick(page, "Colors", "green")
    saved = saved_workflow(page)["nodes"][0]
    assert (saved["color"], saved["bgcolor"]) == ("#232", "#353")

    header.click(button="right")
    _menu_pick(page, "Pin")
    before = saved_workflow(page)["nodes"][0]["pos"]
    hb = header.bounding_box()
    page.mouse.move(hb["x"] + 40, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(hb["x"] + 240, hb["y"] + 200, steps=10)
    page.mouse.up()
    assert saved_workflow(page)["nodes"][0]["pos"] == before, "a pinned node does not move"
    assert saved_workflow(page)["nodes"][0]["flags"]["pinned"] is True

    header.click(button="right")
    _menu_pick(page, "Bypass")
    assert saved_workflow(page)["nodes"][0]["mode"] == 4
    header.click(button="right")
    _menu_pick(page, "Remove")
    assert saved_workflow(page)["nodes"] == []


def _right_click_link(page, link_id: int) -> None:
    """Right-click the middle of the link's drawn curve."""
    path = page.locator(f'.react-flow__edge[data-id="{link_id}"] path.react-flow__edge-path')
    x, y = path.evaluate(MIDPOINT_JS)
    page.mouse.click(x, y, button="right")


def test_link_menu_inserts_a_reroute_and_deletes(page):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 60, box["y"] + 80)
    drag_from_palette(page, "ImageInvert", box["x"] + 560, box["y"] + 420)
    connect(page, 1, 0, 2, "image")
    _right_click_link(page, 1)
    _menu_pick(page, "Add Reroute")
    wf = saved_workflow(page)
    assert [n["type"] for n in wf["nodes"]] == ["EmptyImage", "ImageInvert", "Reroute"]
    assert sorted(tuple(link[1:5]) for link in wf["links"]) == [(1, 0, 3, 0), (3, 0, 2, 0)]
    _right_click_link(page, wf["links"][-1][0])
    _menu_pick(page, "Delete")
    assert [tuple(link[1:5]) for link in saved_workflow(page)["links"]] == [(1, 0, 3, 0)]


def test_group_menu_colours_and_removes(page):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 150, box["y"] + 160)
    node(page, 1).locator(".node-header").click()
    page.keyboard.press("Control+g")
    title = page.locator(".group-title")
    title.click(button="right")
    _menu_pick(page, "Color", "purple")
    assert saved_workflow(page)["groups"][0]["color"] == "#a1309b"
    title.click(button="right")
    _menu_pick(page, "Remove")
    assert saved_workflow(page)["groups"] == []
    assert _types(page) == ["EmptyImage"]
