"""The canvas in a real Chromium against a live Loom server: build, queue, reload, reopen from the PNG."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.canvas_driver import (
    connect,
    drag_from_palette,
    drop_file,
    graph_shape,
    node,
    saved_workflow,
    set_widget,
)
from tests.e2e.flows import BUILD_FLOWS, MISSING_INPUT, REFUSED_LINK

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _place(page, index: int) -> tuple[float, float]:
    box = page.locator(".react-flow__pane").bounding_box()
    return box["x"] + 60 + index * 330, box["y"] + 80 + (index % 2) * 60


def _cell(page, column: int, row: int) -> tuple[float, float]:
    box = page.locator(".react-flow__pane").bounding_box()
    return box["x"] + 30 + column * 215, box["y"] + 40 + row * 320


@pytest.mark.parametrize("flow_name", list(BUILD_FLOWS))
def test_build_queue_reload_and_reopen_from_saved_image(page, loom_server, artifacts, flow_name):
    _, folders = loom_server
    flow = BUILD_FLOWS[flow_name]
    for _ in range(flow["zoom_out"]):
        page.locator(".react-flow__controls-zoomout").click()
    for index, (class_type, cell, widgets) in enumerate(flow["nodes"]):
        drag_from_palette(page, class_type, *_cell(page, *cell))
        node(page, index + 1).wait_for()
        for name, value in widgets.items():
            set_widget(page, index + 1, name, value)
    page.screenshot(path=artifacts / f"{flow_name}_01_nodes_placed.png")

    for src, slot, dst, name in flow["links"]:
        connect(page, src + 1, slot, dst + 1, name)
    assert page.locator(".react-flow__edge").count() == len(flow["links"])
    page.screenshot(path=artifacts / f"{flow_name}_02_connected.png")

    queued = saved_workflow(page)
    page.keyboard.press("Control+Enter")
    out = node(page, flow["output_node"] + 1).locator("img.output")
    out.first.wait_for(timeout=120_000)
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=out.first.element_handle())
    assert page.locator(".node-error").count() == 0
    page.screenshot(path=artifacts / f"{flow_name}_03_output_in_node.png")
    page.get_by_role("button", name="History").click()
    page.locator(".history-item.success img").first.wait_for()

    current = saved_workflow(page)  # as queued, plus seeds moved by control_after_generate
    page.reload()
    page.wait_for_selector(".react-flow__node")
    assert page.locator(".react-flow__node").count() == len(flow["nodes"])
    assert page.locator(".react-flow__edge").count() == len(flow["links"])
    assert graph_shape(saved_workflow(page)) == graph_shape(current)
    page.screenshot(path=artifacts / f"{flow_name}_04_after_reload.png")

    prefix = flow["nodes"][flow["output_node"]][2]["filename_prefix"]
    saved_files = sorted(p for p in folders["output"].rglob(f"{prefix}*") if p.suffix in (".png", ".webp"))
    assert saved_files, f"{prefix}: the output node wrote no PNG/WebP"
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Clear").click()
    assert page.locator(".react-flow__node").count() == 0
    drop_file(page, saved_files[-1], f"image/{saved_files[-1].suffix[1:]}")
    page.wait_for_selector(".react-flow__node")
    assert graph_shape(saved_workflow(page)) == graph_shape(queued)
    page.screenshot(path=artifacts / f"{flow_name}_05_reopened_from_file.png")


def test_incompatible_connection_is_refused_with_a_reason(page, artifacts):
    (src_type, slot), (dst_type, name) = REFUSED_LINK
    drag_from_palette(page, src_type, *_place(page, 0))
    drag_from_palette(page, dst_type, *_place(page, 1))
    node(page, 2).wait_for()
    connect(page, 1, slot, 2, name)
    assert page.locator(".react-flow__edge").count() == 0
    notice = page.locator(".notice.error")
    notice.wait_for()
    assert f'"{name}"' in notice.inner_text()
    page.screenshot(path=artifacts / "refused_connection.png")


def test_validation_errors_mark_the_bad_input(page, artifacts):
    class_type, name = MISSING_INPUT
    drag_from_palette(page, class_type, *_place(page, 0))
    node(page, 1).wait_for()
    page.keyboard.press("Control+Enter")
    bad = node(page, 1).locator(".socket-row.in.has-error", has=page.locator(f'span:text-is("{name}")'))
    bad.wait_for()
    assert "error" in node(page, 1).locator(".loom-node").get_attribute("class")
    page.screenshot(path=artifacts / "validation_error.png")


EXAMPLES = sorted((ROOT / "workflows").glob("*.json")) + sorted((ROOT / "workflows" / "canvas").glob("*.json"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "workflows")))
def test_every_example_workflow_opens_without_errors(page, artifacts, path: Path):
    data = json.loads(path.read_text())
    drop_file(page, path, "application/json")
    page.wait_for_selector(".react-flow__node")
    page.wait_for_timeout(300)
    errors = page.locator(".notice.error, .node-error, .loom-node.unknown")  # model files may be absent
    assert errors.count() == 0, errors.all_inner_texts()
    expected = len(data["nodes"]) + len(data.get("groups", [])) if "nodes" in data else len(data)
    assert page.locator(".react-flow__node").count() == expected
    page.screenshot(path=artifacts / f"workflow_{path.parent.name}_{path.stem}.png")
