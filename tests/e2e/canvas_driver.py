"""Drives the canvas like a user would (drag from the palette, drag between sockets, type into widgets),
so the tests read as the steps they check."""

from __future__ import annotations

import json
from pathlib import Path

DROP_FILE_JS = """([name, mime, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, { type: mime }));
  const target = document.querySelector('.react-flow__pane') || document.querySelector('.app');
  const box = target.getBoundingClientRect();
  const at = { clientX: box.left + box.width / 3, clientY: box.top + box.height / 3 };
  target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true, ...at }));
  target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true, ...at }));
}"""


def node(page, node_id: int):
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def drag_from_palette(page, class_type: str, x: float, y: float) -> None:
    """Drag the palette entry for `class_type` to (x, y) in page pixels over the canvas."""
    page.fill(".palette-search", "")
    page.locator(f'.palette-entry[data-node-type="{class_type}"]').drag_to(
        page.locator(".react-flow__pane"), target_position=_pane_point(page, x, y))


def _pane_point(page, x: float, y: float) -> dict:
    box = page.locator(".react-flow__pane").bounding_box()
    return {"x": x - box["x"], "y": y - box["y"]}


def set_widget(page, node_id: int, name: str, value) -> None:
    row = node(page, node_id).locator(".widget-row", has=page.locator(f'label:text-is("{name}")'))
    toggle = row.locator("button.toggle")
    if toggle.count():
        if ("on" in toggle.get_attribute("class").split()) != bool(value):
            toggle.click()
        return
    field = row.locator("input, select, textarea").first
    tag = field.evaluate("el => el.tagName")
    if tag == "SELECT":
        field.select_option(str(value))
    else:
        field.fill(str(value))
        field.press("Tab")


def connect(page, from_id: int, out_slot: int, to_id: int, input_name: str) -> None:
    """Drag from an output socket to the input socket named `input_name`."""
    source = node(page, from_id).locator(f'.react-flow__handle[data-handleid="o{out_slot}"]')
    row = node(page, to_id).locator(".socket-row.in", has=page.locator(f'span:text-is("{input_name}")'))
    target = row.locator(".react-flow__handle")
    a, b = source.bounding_box(), target.bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
    page.mouse.up()


def drop_file(page, path: Path, mime: str) -> None:
    import base64

    page.evaluate(DROP_FILE_JS, [path.name, mime, base64.b64encode(path.read_bytes()).decode()])


def saved_workflow(page) -> dict:
    """The workflow the canvas keeps in localStorage (what survives a reload)."""
    return json.loads(page.evaluate("localStorage.getItem('loom.workflow')") or "{}")


def graph_shape(wf: dict) -> dict:
    """What makes two canvas workflows 'the same graph': node types, widget values, modes and links."""
    nodes = {n["id"]: (n["type"], json.dumps(n.get("widgets_values")), n.get("mode", 0)) for n in wf["nodes"]}
    links = sorted(tuple(link[1:5]) for link in wf["links"])
    return {"nodes": nodes, "links": links}
