"""ComfyUI's own editor (comfyui-frontend-package 1.27.10) on Loom, in a real Chromium: it loads cleanly,
lists Loom's nodes, runs an edited official template with progress and previews, keeps saved
workflows across a server restart and settings across a reload, runs a pack's extension script,
and names the models a template needs."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from tests.e2e_comfyui import editor as ui
from tests.e2e_comfyui.conftest import _missing_loaders, open_page, start_server

pytestmark = pytest.mark.e2e


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def test_the_editor_loads_without_console_errors_404s_or_unserved_routes(editor, comfy_base):
    page = editor[0]
    page.get_by_role("button", name="Run").first.wait_for()
    page.wait_for_function("app.api.clientId")  # the websocket said hello (status with sid)
    page.wait_for_load_state("networkidle")
    log = (comfy_base / "server.log").read_text()
    assert "not served by Loom" not in log, [line for line in log.splitlines() if "not served" in line]


def test_node_library_lists_loom_nodes_under_their_categories(editor):
    page, url, _ = editor
    nodes = _get_json(url + "/api/object_info")
    page.locator("button.node-library-tab-button").click()
    labels = page.locator(".p-tree-node-label")
    labels.first.wait_for()
    shown = {text.split("\n")[0] for text in labels.all_inner_texts()}
    top_categories = {info["category"].split("/")[0] for info in nodes.values() if not info.get("deprecated")}
    assert top_categories <= shown, top_categories - shown
    page.get_by_text("sampling", exact=True).first.click()
    ksampler = nodes["KSampler"]
    assert ksampler["category"] == "sampling"
    page.locator(".p-tree-node-label", has_text=ksampler["display_name"]).first.wait_for()


def test_a_template_is_edited_queued_and_shows_progress_preview_and_image(editor, artifacts):
    page, _, folders = editor
    ui.open_template(page, "Image Generation", "default")
    for widget, value in (("width", "64"), ("height", "64")):
        ui.set_widget(page, "EmptyLatentImage", widget, value)
    ui.set_widget(page, "KSampler", "steps", "3")
    assert [ui.widget_value(page, "EmptyLatentImage", w) for w in ("width", "height")] == [64, 64]
    assert ui.widget_value(page, "KSampler", "steps") == 3

    box = page.evaluate("app.canvas.canvas.getBoundingClientRect().toJSON()")
    ui.add_node(page, "Preview Image", "PreviewImage", (box["left"] + 900, box["top"] + 700))
    ui.drag_link(page, "VAEDecode", 0, "PreviewImage", 0)
    assert ui.input_link_origin(page, "PreviewImage", 0) == "VAEDecode"

    sampler_id = str(ui.node_ids(page, "KSampler")[0])
    page.get_by_role("button", name="Run").first.click()
    titles, previewed = set(), False
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not ui.shown_images(page, "SaveImage"):
        titles.add(page.title())
        previewed |= page.evaluate("id => !!(app.nodePreviewImages || {})[id]", sampler_id)
        page.wait_for_timeout(50)
    assert any(title.endswith("KSampler") and "%]" in title for title in titles), titles  # "[..%][..%] KSampler"
    assert previewed, "no latent preview reached the KSampler node"
    page.wait_for_function("() => (app.graph.nodes.find(n => n.type === 'SaveImage').imgs || [])[0]?.naturalWidth")
    saved, previewed_image = ui.shown_images(page, "SaveImage")[0], ui.shown_images(page, "PreviewImage")
    assert saved["width"] == 64 and "type=output" in saved["src"]
    assert previewed_image and "type=temp" in previewed_image[0]["src"]
    assert [p.name for p in folders["output"].glob("ComfyUI_*.png")]
    page.screenshot(path=str(artifacts / "comfyui_editor_ran_template.png"))


def test_settings_survive_a_reload(editor):
    page, url, _ = editor
    page.locator("canvas.minimap-canvas").wait_for()
    page.locator("canvas.minimap-canvas").locator("xpath=..").locator("button.right-0").click()
    page.wait_for_function("async () => (await (await fetch('/api/settings')).json())['Comfy.Minimap.Visible'] === false")
    page.reload()
    page.wait_for_function("window.app && window.app.canvas")
    page.get_by_role("button", name="Run").first.wait_for()
    assert page.locator("canvas.minimap-canvas").count() == 0
    assert _get_json(url + "/api/settings/Comfy.Minimap.Visible") is False


def test_a_pack_extension_script_runs_in_the_editor(editor):
    page, url, _ = editor
    assert "/extensions/loom_e2e_pack/badge.js" in _get_json(url + "/api/extensions")
    badge = page.locator("#loom-e2e-badge")
    badge.wait_for(state="visible")
    assert badge.inner_text() == "Loom test pack extension loaded"


def test_the_missing_models_dialog_lists_what_a_template_needs(editor):
    page, _, _ = editor
    page.locator("button.templates-tab-button").click()
    page.get_by_text("LoRA", exact=True).click()
    dialog = page.get_by_role("dialog").filter(has_text="Missing Models")
    dialog.wait_for()
    text = dialog.inner_text()
    for folder, name in (("loras", "MoXinV1.safetensors"), ("loras", "blindbox_v1_mix.safetensors"),
                         ("checkpoints", "dreamshaper_8.safetensors")):
        assert f"{folder} / {name}" in text


def test_a_workflow_saved_in_the_editor_survives_a_server_restart(browser, tmp_path):
    name = "my saved flow"
    with start_server(tmp_path) as (url, folders):
        if _missing_loaders(url):
            pytest.xfail(f"the editor cannot build model widgets until Loom has {', '.join(_missing_loaders(url))}")
        context, page, problems = open_page(browser, url)
        saved_nodes = page.evaluate("app.graph.nodes.map(n => n.type).sort()")
        page.mouse.click(700, 200)
        page.keyboard.press("Control+s")
        field = page.get_by_role("dialog").filter(has_text="Save workflow").locator("input")
        field.fill(name)
        field.press("Enter")
        stored = folders["user"] / "default" / "workflows" / f"{name}.json"
        page.wait_for_function("n => app.extensionManager.workflow.activeWorkflow?.filename === n", arg=name)
        context.close()
        assert sorted(n["type"] for n in json.loads(stored.read_text())["nodes"]) == saved_nodes
    with start_server(tmp_path) as (url, folders):
        context, page, more = open_page(browser, url)
        page.locator("button.workflows-tab-button").click()
        page.locator(".p-tree-node-label", has_text=name).first.click()
        page.wait_for_function("n => app.extensionManager.workflow.activeWorkflow?.filename === n", arg=name)
        assert page.evaluate("app.graph.nodes.map(n => n.type).sort()") == saved_nodes
        context.close()
    assert not problems + more, "\n".join(problems + more)
