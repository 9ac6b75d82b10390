"""Canvas editing in a real Chromium: search-to-add, copy/paste, delete, undo/redo, groups, convert widget, help."""

from __future__ import annotations

import pytest

from tests.e2e.canvas_driver import drag_from_palette, drop_file, node, saved_workflow

pytestmark = pytest.mark.e2e


def _double_click_canvas(page) -> None:
    box = page.locator(".react-flow__pane").bounding_box()
    page.mouse.dblclick(box["x"] + 200, box["y"] + 150)


def test_search_dialog_adds_the_picked_node(page, artifacts):
    _double_click_canvas(page)
    page.keyboard.type("invert")
    page.screenshot(path=artifacts / "search_dialog.png")
    page.keyboard.press("Enter")
    node(page, 1).wait_for()
    assert [n["type"] for n in saved_workflow(page)["nodes"]] == ["ImageInvert"]


def test_copy_paste_delete_undo_redo(page):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "ImageInvert", box["x"] + 100, box["y"] + 100)
    node(page, 1).locator(".node-header").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    node(page, 2).wait_for()
    page.keyboard.press("Delete")
    assert page.locator(".react-flow__node").count() == 1
    page.keyboard.press("Control+z")
    assert page.locator(".react-flow__node").count() == 2
    page.keyboard.press("Control+Shift+z")
    assert page.locator(".react-flow__node").count() == 1


def test_group_and_widget_conversion(page, artifacts):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 120, box["y"] + 140)
    node(page, 1).locator(".node-header").click()
    page.keyboard.press("Control+g")
    page.locator(".loom-group").wait_for()
    assert saved_workflow(page)["groups"][0]["title"] == "Group"

    row = node(page, 1).locator(".widget-row", has=page.locator('label:text-is("width")'))
    row.hover()
    row.locator("button.convert").click()
    socket = node(page, 1).locator(".socket-row.in", has=page.locator('span:text-is("width")'))
    socket.wait_for()
    page.screenshot(path=artifacts / "group_and_converted_widget.png")
    socket.hover()
    socket.locator("button.convert").click()
    row.wait_for()
    assert saved_workflow(page)["nodes"][0]["inputs"] == []


def test_help_lists_the_shortcuts(page, artifacts):
    page.keyboard.press("F1")
    help_panel = page.locator(".help")
    help_panel.wait_for()
    assert "Ctrl+Enter" in help_panel.inner_text()
    page.screenshot(path=artifacts / "help.png")


def test_load_image_upload_shows_a_preview(page, artifacts, tmp_path):
    from PIL import Image

    picture = tmp_path / "upload_me.png"
    Image.new("RGB", (32, 24), (200, 40, 40)).save(picture)
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "LoadImage", box["x"] + 150, box["y"] + 120)
    node(page, 1).locator(".upload input[type=file]").set_input_files(str(picture))
    preview = node(page, 1).locator(".upload img")
    preview.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 32", arg=preview.element_handle())
    assert saved_workflow(page)["nodes"][0]["widgets_values"][0] == "upload_me.png"
    assert node(page, 1).locator("select.invalid").count() == 0  # the new file is one of the choices
    page.screenshot(path=artifacts / "load_image_upload.png")


def _drag(page, start, end) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def _centre(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def test_link_dropped_on_canvas_adds_a_connected_node(page, artifacts):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 60, box["y"] + 100)
    out = node(page, 1).locator('.react-flow__handle[data-handleid="o0"]')
    x, y = _centre(out)
    _drag(page, (x, y), (x + 250, y + 40))
    search = page.locator(".node-search")
    search.wait_for()
    assert "IMAGE" in search.locator("input").get_attribute("placeholder")
    page.keyboard.type("invert")
    page.screenshot(path=artifacts / "link_release_search.png")
    page.keyboard.press("Enter")
    node(page, 2).wait_for()
    assert [link[1:5] for link in saved_workflow(page)["links"]] == [[1, 0, 2, 0]]


def test_dragging_a_link_end_onto_empty_canvas_removes_it(page):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 60, box["y"] + 100)
    drag_from_palette(page, "ImageInvert", box["x"] + 420, box["y"] + 100)
    node(page, 2).wait_for()
    src = _centre(node(page, 1).locator('.react-flow__handle[data-handleid="o0"]'))
    dst = _centre(node(page, 2).locator('.react-flow__handle[data-handleid="i0"]'))
    _drag(page, src, dst)
    assert page.locator(".react-flow__edge").count() == 1
    _drag(page, dst, (dst[0] + 60, dst[1] + 260))
    assert page.locator(".react-flow__edge").count() == 0
    assert saved_workflow(page)["links"] == []


def test_node_width_follows_its_right_edge(page):
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 60, box["y"] + 100)
    grip = node(page, 1).locator(".width-grip")
    before = node(page, 1).bounding_box()["width"]
    x, y = _centre(grip)
    _drag(page, (x, y), (x + 120, y))
    assert node(page, 1).bounding_box()["width"] > before + 100
    assert saved_workflow(page)["nodes"][0]["size"][0] > before + 100


def test_save_downloads_the_workflow_and_open_loads_it_back(page, tmp_path):
    import json

    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 60, box["y"] + 100)
    node(page, 1).wait_for()
    with page.expect_download() as download:
        page.get_by_role("button", name="Save").click()
    saved = tmp_path / "saved.json"
    download.value.save_as(saved)
    workflow = json.loads(saved.read_text())
    assert workflow["version"] == 0.4 and [n["type"] for n in workflow["nodes"]] == ["EmptyImage"]

    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Clear").click()
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Open").click()
    chooser.value.set_files(str(saved))
    node(page, 1).wait_for()
    assert saved_workflow(page)["nodes"][0]["widgets_values"] == workflow["nodes"][0]["widgets_values"]


def test_dropping_a_plain_image_makes_a_load_image_node(page, artifacts, tmp_path):
    from PIL import Image

    picture = tmp_path / "holiday.png"
    Image.new("RGB", (40, 30), (20, 160, 60)).save(picture)
    drop_file(page, picture, "image/png")
    preview = node(page, 1).locator(".upload img")
    preview.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth === 40", arg=preview.element_handle())
    saved = saved_workflow(page)["nodes"][0]
    assert (saved["type"], saved["widgets_values"][0]) == ("LoadImage", "holiday.png")
    page.screenshot(path=artifacts / "plain_image_dropped.png")


def test_ctrl_enter_queues_the_text_still_being_typed(page, loom_server):
    import json
    import urllib.request

    url, _ = loom_server
    box = page.locator(".react-flow__pane").bounding_box()
    drag_from_palette(page, "EmptyImage", box["x"] + 60, box["y"] + 100)
    drag_from_palette(page, "SaveImage", box["x"] + 420, box["y"] + 100)
    node(page, 2).wait_for()
    src = _centre(node(page, 1).locator('.react-flow__handle[data-handleid="o0"]'))
    dst = _centre(node(page, 2).locator('.react-flow__handle[data-handleid="i0"]'))
    _drag(page, src, dst)
    field = node(page, 2).locator(".widget-row input").first
    field.fill("typed_not_blurred")
    field.press("Control+Enter")
    node(page, 2).locator("img.output").wait_for()
    with urllib.request.urlopen(url + "/history?max_items=1") as answer:
        (entry,) = json.load(answer).values()
    assert entry["prompt"][2]["2"]["inputs"]["filename_prefix"] == "typed_not_blurred"
