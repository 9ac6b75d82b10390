"""The websocket hub: connected clients, and delivery of engine events to the right one.

Each socket has its own outgoing queue and writer task, so a slow client never delays the
others and messages to one client keep their order. Everything here runs on the event loop;
the worker thread reaches it through `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import struct
import uuid
from collections.abc import Callable

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

PREVIEW_IMAGE = 1
IMAGE_FORMATS = {"JPEG": 1, "PNG": 2}
MAX_BACKLOG = 10_000  # messages waiting for one socket before it is dropped as stuck


def preview_frame(image, fmt: str | None = None, max_size: int = 512) -> bytes:
    """Binary preview frame: 4-byte BE type 1, 4-byte BE format (1 JPEG, 2 PNG), the image bytes."""
    if isinstance(image, (bytes, bytearray)):
        fmt = (fmt or "JPEG").upper()
        return struct.pack(">II", PREVIEW_IMAGE, IMAGE_FORMATS.get(fmt, 1)) + bytes(image)
    image = image.copy()
    image.thumbnail((max_size, max_size))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return struct.pack(">II", PREVIEW_IMAGE, IMAGE_FORMATS["JPEG"]) + buffer.getvalue()


class _Client:
    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.outbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self.flags: dict = {}

    async def write_loop(self) -> None:
        while (payload := await self.outbox.get()) is not None:
            try:
                if isinstance(payload, bytes):
                    await self.ws.send_bytes(payload)
                else:
                    await self.ws.send_str(payload)
            except (ConnectionError, RuntimeError):
                return


class Hub:
    """Routes messages by client id; `on_connect(client_id)` returns the messages a newcomer needs."""

    def __init__(self, server_flags: dict):
        self.server_flags = server_flags
        self.on_connect: Callable[[str], list[tuple[str, dict]]] = lambda client_id: []
        self.clients: dict[str, set[_Client]] = {}

    def send(self, event: str, data: dict, client_id: str | None = None) -> None:
        """Queue a `{"type", "data"}` message for `client_id`'s sockets, or for everyone when None."""
        self._deliver(json.dumps({"type": event, "data": data}, default=str), client_id)

    def send_bytes(self, payload: bytes, client_id: str | None = None) -> None:
        self._deliver(payload, client_id)

    def _deliver(self, payload: str | bytes, client_id: str | None) -> None:
        if client_id is None:
            targets = [c for group in self.clients.values() for c in group]
        else:
            targets = list(self.clients.get(client_id, ()))
        for client in targets:
            if client.outbox.qsize() >= MAX_BACKLOG:
                log.warning("dropping websocket client %s: %d messages unread", client_id, MAX_BACKLOG)
                asyncio.ensure_future(client.ws.close())
                continue
            client.outbox.put_nowait(payload)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """GET /ws?clientId=: the websocket; reusing a clientId resumes that client's stream.

        Text frames are {"type", "data"}. On connect: status {status: {exec_info: {queue_remaining}},
        sid}, then, if this client's prompt is running, executing {node} and progress_state. Per
        prompt, to its client_id (or everyone when it has none): execution_start, execution_cached
        {nodes}, then per node executing {node, display_node, prompt_id}, progress_state {prompt_id,
        nodes: only the nodes that changed, overall: {nodes_done, nodes_total, node, value, max,
        fraction, elapsed_s, eta_s}}, progress {value, max, node} per step, executed {node, output};
        finally execution_success | execution_error | execution_interrupted, and executing
        {node: null} once the history entry is stored. status is broadcast when the queue changes
        (at most every 100 ms). Binary frames: 4-byte big-endian type 1, 4-byte format (1 JPEG,
        2 PNG), image bytes (previews). Send {"type": "feature_flags", "data": {...}} first to get
        the server's flags back.
        """
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await ws.prepare(request)
        client_id = request.query.get("clientId") or uuid.uuid4().hex
        client = _Client(ws)
        self.clients.setdefault(client_id, set()).add(client)
        writer = asyncio.ensure_future(client.write_loop())
        try:
            for event, data in self.on_connect(client_id):
                client.outbox.put_nowait(json.dumps({"type": event, "data": data}))
            first = True
            async for msg in ws:
                if msg.type == WSMsgType.TEXT and first:
                    self._maybe_feature_flags(client, msg.data)
                first = False
        finally:
            group = self.clients.get(client_id)
            if group is not None:
                group.discard(client)
                if not group:
                    del self.clients[client_id]
            client.outbox.put_nowait(None)
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    def _maybe_feature_flags(self, client: _Client, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "feature_flags":
            client.flags = message.get("data") or {}
            client.outbox.put_nowait(json.dumps({"type": "feature_flags", "data": self.server_flags}))

    async def close_all(self) -> None:
        for group in list(self.clients.values()):
            for client in list(group):
                await client.ws.close(code=1001, message=b"server shutdown")
