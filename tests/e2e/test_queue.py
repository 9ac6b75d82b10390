"""Running prompts in a real Chromium: the queue panel cancels and interrupts; a failing node is marked."""

from __future__ import annotations

import json

import pytest

from tests.e2e.canvas_driver import drop_file
from tests.e2e.conftest import ROOT
from tests.e2e.flows import BROKEN_CHECKPOINT, TINY_CHECKPOINT

pytestmark = pytest.mark.e2e


def _txt2img(tmp_path, checkpoint: str = TINY_CHECKPOINT, steps: int = 5000):
    """The example txt2img on a test checkpoint; 5000 steps keep it running while the test clicks."""
    prompt = json.loads((ROOT / "workflows" / "sd15_txt2img.json").read_text())
    for node in prompt.values():
        inputs = node["inputs"]
        if "ckpt_name" in inputs:
            inputs["ckpt_name"] = checkpoint
        if "steps" in inputs:
            inputs["steps"] = steps
        if "width" in inputs:
            inputs["width"] = inputs["height"] = 64
    path = tmp_path / "slow_txt2img.json"
    path.write_text(json.dumps(prompt))
    return path


def test_cancel_pending_and_interrupt_running(page, artifacts, tmp_path):
    drop_file(page, _txt2img(tmp_path), "application/json")
    page.wait_for_selector(".react-flow__node")
    page.keyboard.press("Control+Enter")
    page.locator(".queue-item.running").wait_for()
    page.locator(".loom-node.running .progress").wait_for()
    page.keyboard.press("Control+Enter")  # the seed was randomized, so this is a second, pending run
    pending = page.locator(".queue-item:not(.running)")
    pending.wait_for()
    page.screenshot(path=artifacts / "queue_running_and_pending.png")

    pending.get_by_role("button", name="Cancel").click()
    pending.wait_for(state="detached")
    page.locator(".queue-item.running").get_by_role("button", name="Interrupt").click()
    page.locator(".queue-item").first.wait_for(state="detached")
    page.locator(".notice", has_text="interrupted").wait_for()
    assert page.locator(".loom-node.running").count() == 0
    page.screenshot(path=artifacts / "queue_after_interrupt.png")


def test_failing_node_is_marked_with_the_message(page, artifacts, tmp_path):
    drop_file(page, _txt2img(tmp_path, checkpoint=BROKEN_CHECKPOINT, steps=2), "application/json")
    page.wait_for_selector(".react-flow__node")
    page.keyboard.press("Control+Enter")
    failed = page.locator('.loom-node.error[data-node-type="CheckpointLoaderSimple"] .node-error')
    failed.wait_for()
    assert failed.inner_text().strip()
    assert page.locator(".loom-node.error").count() == 1
    page.screenshot(path=artifacts / "execution_error.png")
