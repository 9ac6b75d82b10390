"""What a new user sees first, in a real Chromium: a text-to-image workflow instead of an empty canvas, and a
template browser with the official templates' thumbnails, offering those whose nodes Loom has."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.canvas_driver import saved_workflow
from tests.e2e.flows import BROKEN_CHECKPOINT, TINY_CHECKPOINT
from tests.needs import need_module

pytestmark = pytest.mark.e2e

TXT2IMG_TYPES = ["CLIPTextEncode", "CLIPTextEncode", "CheckpointLoaderSimple", "EmptyLatentImage", "KSampler",
                 "SaveImage", "VAEDecode"]


def _templates_folder() -> Path:
    templates = need_module("comfyui_workflow_templates", "pip install -e '.[comfyui-frontend]'")
    return Path(templates.__file__).parent / "templates"


def test_first_visit_opens_a_linked_text_to_image_workflow(first_visit_page):
    page = first_visit_page
    page.locator('.react-flow__node[data-id="9"]').wait_for()
    wf = saved_workflow(page)
    assert sorted(n["type"] for n in wf["nodes"]) == TXT2IMG_TYPES
    assert len(wf["links"]) == 9
    loader = next(n for n in wf["nodes"] if n["type"] == "CheckpointLoaderSimple")
    assert loader["widgets_values"][0] in {TINY_CHECKPOINT, BROKEN_CHECKPOINT}
    page.reload()
    page.wait_for_selector(".palette-entry")
    again = saved_workflow(page)
    assert [(n["id"], n["pos"], n["widgets_values"]) for n in again["nodes"]] == [
        (n["id"], n["pos"], n["widgets_values"]) for n in wf["nodes"]], "the default opens once; later visits keep it"


def test_template_browser_lists_runnable_templates_with_thumbnails_and_loads_one(first_visit_page, artifacts):
    page = first_visit_page
    default = json.loads((_templates_folder() / "default.json").read_text())
    page.locator('.react-flow__node[data-id="9"]').wait_for()
    page.mouse.click(*_centre(page.locator("button.templates-button")))
    card = page.locator('.template-card[data-template="default"]')
    card.wait_for()
    page.wait_for_function("document.querySelector('.template-count').textContent.indexOf('checking') < 0",
                           timeout=60_000)
    assert card.is_enabled()
    assert card.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    cards = page.locator(".template-card")
    assert cards.count() > 1 and all(c.is_enabled() for c in cards.all()), "only runnable templates by default"
    page.screenshot(path=artifacts / "template_browser.png")
    page.locator(".template-head input[type=checkbox]").click()
    assert page.locator(".template-card.unavailable").count() > 0, "templates needing other nodes are greyed"
    page.mouse.click(*_centre(card))
    page.locator(".template-browser").wait_for(state="detached")
    wf = saved_workflow(page)
    assert sorted(n["type"] for n in wf["nodes"]) == sorted(n["type"] for n in default["nodes"])
    assert sorted(tuple(link[:5]) for link in wf["links"]) == sorted(tuple(link[:5]) for link in default["links"])


def _centre(locator) -> tuple[float, float]:
    b = locator.bounding_box()
    return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2
