"""With a token required, the canvas asks for it once, keeps it, and then talks to the server normally."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, E2E_TOKEN, ROOT

pytestmark = pytest.mark.e2e
STATIC = ROOT / "web" / "static"


def _serve_page_without_token(route) -> None:
    """Stand-in for a server that serves the page itself without a token; API calls still reach the real one."""
    path = route.request.url.split("//", 1)[1].split("/", 1)[1].split("?")[0]
    file = STATIC / (path or "index.html")
    mime = "text/html" if file.suffix == ".html" else "text/css" if file.suffix == ".css" else "text/javascript"
    route.fulfill(status=200, body=file.read_bytes(), headers={"Content-Type": mime})


def test_token_is_asked_once_and_kept(browser, loom_server_with_token, artifacts):
    url, _ = loom_server_with_token
    # A page fulfilled by the test has no address space, so Chromium would block its websocket to loopback.
    own = browser.browser_type.launch(executable_path=str(CHROMIUM),
                                      args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks"])
    context = own.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.route(f"{url}/", _serve_page_without_token)
    page.route(f"{url}/assets/**", _serve_page_without_token)
    page.goto(url + "/")
    dialog = page.locator(".modal.token")
    dialog.wait_for()
    page.screenshot(path=artifacts / "token_dialog.png")
    dialog.locator("input").fill(E2E_TOKEN)
    dialog.locator("button[type=submit]").click()
    page.wait_for_selector(".palette-entry")
    page.wait_for_selector(".conn.on")
    assert page.evaluate("localStorage.getItem('loom.token')") == E2E_TOKEN

    page.reload()
    page.wait_for_selector(".palette-entry")
    assert page.locator(".modal.token").count() == 0
    own.close()
