"""Completion callbacks: when a prompt finishes, POST its history entry to extra_data["webhook"].

For synchronous API clients that cannot keep a websocket open (or use ?wait=true). Targets must
be loopback addresses, so the server cannot be used to send requests to other machines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from web.security import is_loopback
from web.state import WORKER

log = logging.getLogger(__name__)
WEBHOOK_KEY = "webhook"


def webhook_problem(url: object) -> str | None:
    """Why `url` cannot be a webhook, or None when it can."""
    if not isinstance(url, str):
        return "extra_data.webhook must be a URL string"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"extra_data.webhook must be an http(s) URL, got {url!r}"
    if not is_loopback(parts.hostname):
        return f"extra_data.webhook must point to this machine (localhost/127.0.0.1/::1), got {parts.hostname!r}"
    return None


async def _deliver(session: aiohttp.ClientSession, url: str, prompt_id: str, entry: dict) -> None:
    try:
        async with session.post(url, json={"prompt_id": prompt_id, **entry}) as response:
            if response.status >= 400:
                log.warning("webhook %s answered %d for prompt %s", url, response.status, prompt_id)
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.warning("webhook %s failed for prompt %s: %s", url, prompt_id, exc)


async def webhooks(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: one client session for the app's life, called when each prompt finishes."""
    pending: set[asyncio.Task] = set()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        def on_finished(prompt_id: str, entry: dict) -> None:
            url = (entry.get("prompt") or [None] * 4)[3].get(WEBHOOK_KEY)
            if url and webhook_problem(url) is None:
                task = asyncio.ensure_future(_deliver(session, url, prompt_id, entry))
                pending.add(task)
                task.add_done_callback(pending.discard)

        app[WORKER].on_finished.append(on_finished)
        yield
        await asyncio.gather(*pending, return_exceptions=True)
