"""The websocket hub: connected clients, and delivery of engine events to the right one.

Each socket has its own outgoing queue and writer task, so a slow client never delays the
others and messages to one client keep their order. Everything here runs on the event loop;
other threads (the prompt worker, node packs) go through `send_threadsafe` / `call_threadsafe`,
which hand their messages over in batches (web/loop_outbox.py).
"""

from __future__ import annotations

import asyncio
import collections
import io
import json
import logging
import struct
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from engine.json_text import dumps_utf8
from web.loop_outbox import LoopOutbox, Message

log = logging.getLogger(__name__)

PREVIEW_IMAGE = 1
PREVIEW_IMAGE_WITH_METADATA = 4
IMAGE_FORMATS = {"JPEG": 1, "PNG": 2}
MAX_BACKLOG = 10_000  # messages waiting for one socket before it is dropped as stuck
RAW_WRITE_LIMIT = 1 << 20  # bytes unsent to a socket beyond which writes wait for it to drain
TEXT, BINARY = WSMsgType.TEXT, WSMsgType.BINARY
Outgoing = tuple[bytes, WSMsgType]  # a message encoded once, whatever the number of sockets it goes to
_SHORT_HEADERS = {op: [bytes((0x80 | op, size)) for size in range(126)] for op in (TEXT, BINARY)}


def _as_json(value: Any) -> Any:
    """A value the encoder does not know: its `as_json()` (values built only when sent), else its text."""
    as_json = getattr(value, "as_json", None)
    return as_json() if callable(as_json) else str(value)


def _text(event: str, data: dict) -> Outgoing:
    """The text frame of a `{"type", "data"}` message."""
    return dumps_utf8({"type": event, "data": data}, _as_json), TEXT


def encode_preview(image, fmt: str | None = None, max_size: int = 512) -> tuple[bytes, str]:
    """(encoded bytes, 'JPEG' | 'PNG') for a PIL image (downscaled, as JPEG) or already-encoded bytes."""
    if isinstance(image, (bytes, bytearray)):
        fmt = (fmt or "JPEG").upper()
        return bytes(image), fmt if fmt in IMAGE_FORMATS else "JPEG"
    image = image.copy()
    image.thumbnail((max_size, max_size))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue(), "JPEG"


def preview_frames(data: bytes, fmt: str, meta: dict) -> tuple[bytes, bytes]:
    """The two binary preview frames: type 1 (4-byte BE type, 4-byte BE format 1 JPEG / 2 PNG, image)
    and type 4 (4-byte BE type, 4-byte BE JSON length, JSON metadata with image_type, image)."""
    plain = struct.pack(">II", PREVIEW_IMAGE, IMAGE_FORMATS[fmt]) + data
    header = json.dumps({**meta, "image_type": f"image/{fmt.lower()}"}).encode()
    rich = struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(header)) + header + data
    return plain, rich


def frame(payload: bytes, opcode: int) -> bytes:
    """One unmasked, final websocket frame (RFC 6455 §5.2): what a server sends without compression."""
    size = len(payload)
    if size < 126:
        return _SHORT_HEADERS[opcode][size] + payload
    if size < 1 << 16:
        return struct.pack(">BBH", 0x80 | opcode, 126, size) + payload
    return struct.pack(">BBQ", 0x80 | opcode, 127, size) + payload


class _Client:
    """One socket: its outbox and the task that writes it out.

    Messages waiting in the outbox go out together: on a connection without compression as frames joined
    into one transport write (one system call and one wake-up of the reader for a burst of per-node
    messages, instead of one each); otherwise, or while the peer is slow to read, through aiohttp's
    writer, which compresses and waits for the socket to drain.
    """

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.BaseTransport | None):
        self.ws = ws
        self.transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.pending: collections.deque[Outgoing | None] = collections.deque()  # None: close the writer
        self.wake = asyncio.Event()
        self.flags: dict = {}

    def put(self, message: Outgoing | None) -> None:
        self.pending.append(message)
        self.wake.set()

    async def write_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            batch = list(self.pending)
            self.pending.clear()
            end = batch.index(None) if None in batch else len(batch)
            try:
                await self._write(batch[:end])
            except (ConnectionError, RuntimeError):
                return
            if end < len(batch):
                return

    async def _write(self, messages: list[Outgoing]) -> None:
        transport = self.transport
        if (transport is not None and not self.ws.compress and not self.ws.closed and not transport.is_closing()
                and transport.get_write_buffer_size() < RAW_WRITE_LIMIT):
            transport.write(b"".join([frame(payload, opcode) for payload, opcode in messages]))
            return
        for payload, opcode in messages:
            await self.ws.send_frame(payload, opcode)


class Hub:
    """Routes messages by client id; `on_connect(client_id)` returns the messages a newcomer needs."""

    def __init__(self, server_flags: dict):
        self.server_flags = server_flags
        self.on_connect: Callable[[str], list[tuple[str, dict]]] = lambda client_id: []
        self.clients: dict[str, set[_Client]] = {}
        self._outbox: LoopOutbox | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Set the loop that other threads' messages are delivered on (the server's)."""
        if self._outbox is None or self._outbox.loop is not loop:
            self._outbox = LoopOutbox(loop, self.send_batch)

    def send_threadsafe(self, event: str, data: dict, client_id: str | None = None) -> None:
        """`send` from any thread; dropped when no loop is bound (no server running)."""
        if self._outbox is not None:
            self._outbox.message(event, data, client_id)

    def call_threadsafe(self, fn: Callable, *args) -> None:
        """Run `fn(*args)` on the loop, in order with the messages sent from other threads."""
        if self._outbox is not None:
            self._outbox.call(fn, *args)

    def send(self, event: str, data: dict, client_id: str | None = None) -> None:
        """Queue a `{"type", "data"}` message for `client_id`'s sockets, or for everyone when None."""
        self._deliver(_text(event, data), client_id)

    def send_batch(self, messages: list[Message]) -> None:
        """`send` for many messages at once (the other threads' batches): each target looked up once."""
        targets: dict[str | None, list[_Client]] = {}
        for message in messages:
            clients = targets.get(message.client_id)
            if clients is None:
                clients = targets[message.client_id] = self._targets(message.client_id)
            if clients:
                text = _text(message.event, message.data)
                for client in clients:
                    self._put(client, text)

    def send_preview(self, plain: bytes, rich: bytes, client_id: str | None = None) -> None:
        """A preview: the metadata frame to clients that announced supports_preview_metadata."""
        for client in self._targets(client_id):
            self._put(client, (rich if client.flags.get("supports_preview_metadata") else plain, BINARY))

    def _deliver(self, message: Outgoing, client_id: str | None) -> None:
        for client in self._targets(client_id):
            self._put(client, message)

    def _targets(self, client_id: str | None) -> list[_Client]:
        if client_id is None:
            return [c for group in self.clients.values() for c in group]
        return list(self.clients.get(client_id, ()))

    def _put(self, client: _Client, message: Outgoing) -> None:
        if len(client.pending) >= MAX_BACKLOG:
            log.warning("dropping a websocket client: %d messages unread", MAX_BACKLOG)
            asyncio.ensure_future(client.ws.close())
            return
        client.put(message)

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
        (at most every 100 ms). Previews are binary frames: 4-byte big-endian type 1, 4-byte format
        (1 JPEG, 2 PNG), image bytes; or, to clients whose first message is {"type": "feature_flags",
        "data": {"supports_preview_metadata": true}}, type 4, 4-byte JSON length, JSON {node_id,
        prompt_id, display_node_id, parent_node_id, real_node_id, image_type}, image bytes. The
        feature_flags message is answered with the server's flags.
        """
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=1 << 20)
        await ws.prepare(request)
        client_id = request.query.get("clientId") or uuid.uuid4().hex
        client = _Client(ws, request.transport)
        self.clients.setdefault(client_id, set()).add(client)
        writer = asyncio.ensure_future(client.write_loop())
        try:
            for event, data in self.on_connect(client_id):
                client.put(_text(event, data))
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
            client.put(None)
            await asyncio.gather(writer, return_exceptions=True)
        return ws

    def _maybe_feature_flags(self, client: _Client, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "feature_flags":
            client.flags = message.get("data") or {}
            client.put(_text("feature_flags", self.server_flags))

    async def close_all(self) -> None:
        for group in list(self.clients.values()):
            for client in list(group):
                await client.ws.close(code=1001, message=b"server shutdown")
