"""A workflow naming model files the server lacks, in a real Chromium: the canvas lists each file with the
folder and URL the workflow carries, and its Download button fetches it (here from a loopback HTTP host)
into the server's model folder."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from tests.e2e.canvas_driver import drop_file

pytestmark = pytest.mark.e2e

PAYLOAD = b"not really a lora, but bytes to fetch" * 1000


@pytest.fixture
def file_host(tmp_path):
    """A plain HTTP server on loopback serving tmp_path/host."""
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "e2e_lora.safetensors").write_bytes(PAYLOAD)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "host"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _workflow(url: str) -> dict:
    models = [{"name": "e2e_lora.safetensors", "url": f"{url}/e2e_lora.safetensors", "directory": "loras"},
              {"name": "never_there.safetensors", "url": f"{url}/never_there.safetensors", "directory": "vae"}]
    node = {"id": 1, "type": "LoraLoader", "pos": [0, 0], "size": [300, 130], "flags": {}, "order": 0, "mode": 0,
            "inputs": [{"name": "model", "type": "MODEL", "link": None}, {"name": "clip", "type": "CLIP", "link": None}],
            "outputs": [{"name": "MODEL", "type": "MODEL", "links": []}, {"name": "CLIP", "type": "CLIP", "links": []}],
            "properties": {"Node name for S&R": "LoraLoader", "models": models},
            "widgets_values": ["e2e_lora.safetensors", 1, 1]}
    return {"last_node_id": 1, "last_link_id": 0, "nodes": [node], "links": [], "groups": [], "config": {},
            "extra": {}, "version": 0.4}


def test_missing_models_are_listed_with_url_and_folder_and_download(page, loom_server, file_host, tmp_path, artifacts):
    path = tmp_path / "needs_models.json"
    path.write_text(json.dumps(_workflow(file_host)))
    drop_file(page, path, "application/json")
    rows = page.locator(".missing-models tr.missing-model")
    rows.first.wait_for()
    assert [r.get_attribute("data-model") for r in rows.all()] == ["e2e_lora.safetensors", "never_there.safetensors"]
    lora = page.locator('tr.missing-model[data-model="e2e_lora.safetensors"]')
    assert lora.locator("td").nth(1).inner_text() == "loras"
    assert lora.locator("td.model-url").inner_text() == f"{file_host}/e2e_lora.safetensors"
    lora.locator("button", has_text="Download").click()
    page.wait_for_function(
        """() => document.querySelector('tr[data-model="e2e_lora.safetensors"] .download-state')
             .textContent === 'downloaded'""")
    page.screenshot(path=artifacts / "missing_models.png")
    assert (loom_server[1]["models"] / "loras" / "e2e_lora.safetensors").read_bytes() == PAYLOAD
    gone = page.locator('tr.missing-model[data-model="never_there.safetensors"]')
    gone.locator("button", has_text="Download").click()
    page.wait_for_function(
        """() => document.querySelector('tr[data-model="never_there.safetensors"] .download-state')
             .textContent.startsWith('failed')""")
    assert "404" in gone.locator(".download-state").inner_text()


def test_a_refused_queue_lists_the_missing_files_again(page, file_host, tmp_path):
    path = tmp_path / "needs_models.json"
    path.write_text(json.dumps(_workflow(file_host)))
    drop_file(page, path, "application/json")
    dialog = page.locator(".missing-models")
    dialog.locator("button", has_text="Close").click()
    dialog.wait_for(state="detached")
    page.locator("button.queue-button").click()
    page.locator('tr.missing-model[data-model="never_there.safetensors"]').wait_for()
