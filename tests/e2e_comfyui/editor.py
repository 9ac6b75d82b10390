"""Driving ComfyUI's editor with the real mouse and keyboard: canvas positions come from the graph
(node, widget and slot positions through the canvas transform), the clicks and drags are real."""

from __future__ import annotations

from playwright.sync_api import TimeoutError as PlaywrightTimeout

# canvas coordinates -> page coordinates, through the canvas's current offset and scale
_TO_PAGE = """([x, y]) => { const ds = app.canvas.ds, box = app.canvas.canvas.getBoundingClientRect();
  return [box.left + (x + ds.offset[0]) * ds.scale, box.top + (y + ds.offset[1]) * ds.scale]; }"""


def _page_point(page, canvas_xy) -> tuple[float, float]:
    return tuple(page.evaluate(_TO_PAGE, list(canvas_xy)))


def node_ids(page, node_type: str) -> list[int]:
    return page.evaluate("t => app.graph.nodes.filter(n => n.type === t).map(n => n.id)", node_type)


def open_template(page, title: str, name: str) -> None:
    """Open the templates side panel, click a template's card, wait until its graph is the active one."""
    page.locator("button.templates-tab-button").click()
    page.get_by_text(title, exact=True).click()
    page.wait_for_function("name => app.extensionManager.workflow.activeWorkflow?.filename === name", arg=name)


def set_widget(page, node_type: str, widget: str, value: str) -> None:
    """Click the middle of a number or text widget, type the value in the editor's prompt, press Enter."""
    canvas_xy = page.evaluate("""([t, name]) => { const n = app.graph.nodes.find(n => n.type === t);
      const w = n.widgets.find(w => w.name === name);
      return [n.pos[0] + n.size[0] / 2, n.pos[1] + w.y + LiteGraph.NODE_WIDGET_HEIGHT / 2]; }""", [node_type, widget])
    page.mouse.click(*_page_point(page, canvas_xy))
    field = page.locator(".graphdialog input.value")
    field.wait_for()
    field.fill(value)
    field.press("Enter")


def widget_value(page, node_type: str, widget: str):
    return page.evaluate("""([t, name]) => app.graph.nodes.find(n => n.type === t)
      .widgets.find(w => w.name === name).value""", [node_type, widget])


def add_node(page, search: str, node_type: str, at: tuple[float, float]) -> None:
    """Double-click empty canvas at page point `at`, type in the node search box, click the first match."""
    before = len(node_ids(page, node_type))
    page.locator(".graphdialog").wait_for(state="detached")
    box = page.locator("input[placeholder='Search Nodes...']")
    for _ in range(3):  # a double-click landing while the canvas closes a widget prompt opens nothing
        page.mouse.dblclick(*at)
        try:
            box.wait_for(timeout=3000)
            break
        except PlaywrightTimeout:
            continue
    box.press_sequentially(search, delay=30)
    page.get_by_role("option").filter(has_text=search).first.click()
    page.wait_for_function("([t, n]) => app.graph.nodes.filter(x => x.type === t).length > n", arg=[node_type, before])
    page.wait_for_timeout(300)  # the box closes after adding; a late click can leave it open in filter mode
    if box.is_visible():
        box.press("Escape")
    box.wait_for(state="hidden")


def drag_link(page, source_type: str, output: int, target_type: str, input_: int) -> None:
    """Drag from an output slot to an input slot with the mouse (once no dialog covers the canvas)."""
    page.locator(".graphdialog").wait_for(state="detached")
    slot = """([t, isInput, i]) => app.graph.nodes.filter(n => n.type === t).at(-1).getConnectionPos(isInput, i)"""
    x0, y0 = _page_point(page, page.evaluate(slot, [source_type, False, output]))
    x1, y1 = _page_point(page, page.evaluate(slot, [target_type, True, input_]))
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()


def input_link_origin(page, node_type: str, input_: int) -> str | None:
    """The type of the node feeding `input_` of the last `node_type` node (None when unlinked)."""
    return page.evaluate("""([t, i]) => { const n = app.graph.nodes.filter(n => n.type === t).at(-1);
      const id = n.inputs[i].link, links = app.graph.links;
      const link = id == null ? null : (links instanceof Map ? links.get(id) : links[id]);
      return link ? app.graph.getNodeById(link.origin_id).type : null; }""", [node_type, input_])


def shown_images(page, node_type: str) -> list[dict]:
    """The images a node displays: [{src, width}] once loaded."""
    return page.evaluate("""t => (app.graph.nodes.find(n => n.type === t)?.imgs || [])
      .map(i => ({src: i.src, width: i.naturalWidth}))""", node_type)
