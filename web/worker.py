"""The prompt worker: one thread that runs queued prompts one at a time, off the event loop.

The executor's events arrive on this thread and are handed to the websocket hub through
its thread-safe outbox (batched, in order). Whatever a prompt does (crash, interrupt, bad graph), the result
goes into history and the worker takes the next prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from engine.graph.context import Interrupt
from engine.queue import PromptQueue, QueueItem, make_status
from web.progress import ProgressTracker
from web.ws import Hub, encode_preview, preview_frames

log = logging.getLogger(__name__)

STATUS_INTERVAL = 0.1  # seconds between queue-length broadcasts
# Events kept in the history entry's status.messages (as ComfyUI does).
HISTORY_EVENTS = {"execution_start", "execution_cached", "execution_success", "execution_error",
                  "execution_interrupted"}
# The prompt's last word: sent only once its history entry is stored, so a client reacting to it finds the entry.
ENDING_EVENTS = {"execution_success", "execution_error", "execution_interrupted"}
YOUNG_COLLECTION_THRESHOLD = 10_000


def tune_collector() -> None:
    """Before the first prompt: move every object alive (modules, node registry, server state: nothing that
    belongs to a prompt yet) out of the cycle collector's sight, and collect the young generation every
    10,000 net allocations instead of 700. Otherwise full collections walk the start-up heap again (~90 ms
    every third 1,000-node prompt) and young ones run ~40 times per such prompt; together they were its
    largest single cost. Frozen objects are still freed by reference counting; only cycles among them
    would never be collected."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


async def _nodes_settled(executor: Any) -> None:
    """Return once the executor's node registry has loaded (or failed to): freezing the heap before that
    (a prompt left queued from the last run is claimed at once) would leave the registry, the largest part
    of the start-up heap, to be walked by every full collection."""
    settled = getattr(executor, "settled", None)  # ExecutorWhenLoaded; a ready Executor has nothing to await
    if settled is not None:
        await settled()


def _failure_message(prompt_id: str, exc: BaseException, node_id: str | None) -> dict:
    """An execution_error message for a failure outside any node (the executor or the worker itself)."""
    return {"prompt_id": prompt_id, "node_id": node_id, "node_type": None, "executed": [],
            "exception_message": str(exc), "exception_type": type(exc).__qualname__,
            "traceback": traceback.format_exception(exc), "current_inputs": {}, "current_outputs": [],
            "timestamp": int(time.time() * 1000)}


class _Run:
    """What the worker knows about the prompt it is running."""

    def __init__(self, item: QueueItem):
        self.item = item
        self.client_id: str | None = item.extra_data.get("client_id")
        validation = item.prepared  # POST /prompt's: its order lists the nodes the outputs need
        self.tracker = ProgressTracker(item.prompt_id, item.prompt, item.outputs, deferred_overall=True,
                                       needed=validation.order if validation is not None else None)
        self.messages: list[list[Any]] = []
        self.ui_outputs: dict[str, Any] = {}
        self.last_node: str | None = None
        self.ended = False
        self.held: list[tuple[str, dict]] = []  # ENDING_EVENTS waiting for the history entry
        self.ran = self.cached = 0  # nodes executed / taken from the cache, for the log line

    @property
    def failed(self) -> bool:
        return any(m[0] in ("execution_error", "execution_interrupted") for m in self.messages)

    @property
    def final_state(self) -> str:
        """State of the last running node when the prompt ends."""
        return "error" if self.failed else "finished"


class PromptWorker:
    """Owns the worker thread, the interrupt flag and the waiters of `POST /prompt?wait=true`."""

    #: whether to `tune_collector` before the first prompt: the server process sets it (launch/serve.py); a
    #: test hosting the app in its own long process leaves it off (freezing its heap would keep its cycles)
    tunes_collector = False

    def __init__(self, queue: PromptQueue, executor: Any, hub: Hub, free_memory: Callable[[bool], None]):
        self.queue = queue
        self.executor = executor
        services = getattr(getattr(executor, "registry", None), "services", None)
        self.folders = getattr(services, "folders", None)  # to keep absolute paths out of error messages
        self.hub = hub
        self.free_memory = free_memory
        self.interrupt_flag = Interrupt()
        self.current: _Run | None = None
        self._waiters: dict[str, list[asyncio.Future]] = {}
        self._free_request: bool | None = None
        self._status_due = False
        self._status_sent = float("-inf")
        self._status_timer: asyncio.TimerHandle | None = None
        self.on_finished: list[Callable[[str, dict], None]] = []  # (prompt_id, history entry), on the loop
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- event-loop side ---------------------------------------------------------------------
    def start(self) -> None:
        self.hub.bind(asyncio.get_running_loop())
        self._thread = threading.Thread(target=self._main, name="loom-prompt-worker", daemon=True)
        self._thread.start()

    def halt(self) -> None:
        """Claim no more prompts and interrupt the running one, which goes back to the queue. Called as the
        server starts shutting down: waiting for its connections first could let the prompt finish."""
        self._stop.set()
        self.interrupt_flag.set()

    async def stop(self) -> None:
        self.halt()
        if self._status_timer is not None:  # a late broadcast would read the queue after it is closed
            self._status_timer.cancel()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 30)

    def wait_for(self, prompt_id: str) -> asyncio.Future:
        """A future resolved with the history entry when `prompt_id` finishes (call on the loop)."""
        future = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(prompt_id, []).append(future)
        return future

    def forget_waiter(self, prompt_id: str, future: asyncio.Future) -> None:
        waiters = self._waiters.get(prompt_id, [])
        if future in waiters:
            waiters.remove(future)
        if not waiters:
            self._waiters.pop(prompt_id, None)

    def interrupt(self, prompt_id: str | None = None) -> str:
        """Stop the running prompt (or cancel `prompt_id` if it is pending); says what happened."""
        current = self.current
        if prompt_id is None or (current is not None and current.item.prompt_id == prompt_id):
            if current is None:
                return "idle"
            self.interrupt_flag.set()
            return "interrupted"
        if self.queue.delete([prompt_id]):
            self.broadcast_status()
            return "cancelled"
        return "not_found"

    def request_free(self, unload_models: bool, free_memory: bool) -> None:
        """Free caches/models between prompts (now if idle)."""
        if unload_models or free_memory:
            self._free_request = bool(unload_models or self._free_request)

    def broadcast_status(self) -> None:
        """Tell every client the queue length: at most one message per STATUS_INTERVAL, the last one
        always sent (a burst of 100 submissions is one or two broadcasts, not 100 x clients)."""
        if self._status_due or self._stop.is_set():  # stopping: the worker's late posts find the queue closed
            return
        self._status_due = True
        loop = asyncio.get_running_loop()
        self._status_timer = loop.call_at(max(loop.time(), self._status_sent + STATUS_INTERVAL), self._send_status)

    def _send_status(self) -> None:
        self._status_due = False
        self._status_sent = asyncio.get_running_loop().time()
        self.hub.send("status", {"status": {"exec_info": {"queue_remaining": self.queue.remaining()}}})

    def connect_messages(self, client_id: str) -> list[tuple[str, dict]]:
        """What a (re)connecting client gets: the queue status, and where its running prompt is."""
        status = {"status": {"exec_info": {"queue_remaining": self.queue.remaining()}}, "sid": client_id}
        messages: list[tuple[str, dict]] = [("status", status)]
        run = self.current
        if run is not None and not run.ended and run.client_id in (None, client_id):
            pid = run.item.prompt_id
            messages.append(("executing", {"node": run.last_node, "display_node": run.last_node,
                                           "prompt_id": pid}))
            messages.append(("progress_state", {"prompt_id": pid, "nodes": {},
                                                "overall": run.tracker.overall()}))
        return messages

    def _finished(self, prompt_id: str, entry: dict) -> None:
        for future in self._waiters.pop(prompt_id, []):
            if not future.done():
                future.set_result(entry)
        for callback in self.on_finished:
            callback(prompt_id, entry)
        self.broadcast_status()

    # ---- worker-thread side ------------------------------------------------------------------
    def _post(self, fn: Callable, *args: Any) -> None:
        self.hub.call_threadsafe(fn, *args)

    def _send(self, run: _Run, event: str, data: dict) -> None:
        self.hub.send_threadsafe(event, data, run.client_id)

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        tuned = not self.tunes_collector
        try:
            while not self._stop.is_set():
                item = self.queue.claim(timeout=0.2)
                self._apply_free()  # a /free that came before this prompt applies before it runs
                if item is not None:
                    self._post(self.broadcast_status)  # as ComfyUI: queue views re-read, and show it running
                    if not tuned:
                        loop.run_until_complete(_nodes_settled(self.executor))
                        tune_collector()
                        tuned = True
                    self._run_guarded(loop, item)
        finally:
            loop.close()

    def _apply_free(self) -> None:
        if self._free_request is None:
            return
        unload, self._free_request = self._free_request, None
        try:
            self.free_memory(unload)
        except Exception:
            log.exception("freeing memory failed")

    def _run_guarded(self, loop: asyncio.AbstractEventLoop, item: QueueItem) -> None:
        """`_run`, and if even the bookkeeping around it fails, still close the prompt with the error."""
        try:
            self._run(loop, item)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            log.exception("worker failed on prompt %s", item.prompt_id)
            self.current = None
            message = _failure_message(item.prompt_id, exc, node_id=None)
            with contextlib.suppress(Exception):
                entry = self.queue.finish(item, {}, make_status("error", False, [["execution_error", message]]))
                client_id = item.extra_data.get("client_id")
                self.hub.send_threadsafe("execution_error", message, client_id)
                self.hub.send_threadsafe("executing", {"node": None, "prompt_id": item.prompt_id}, client_id)
                self._post(self._finished, item.prompt_id, entry)

    def _run(self, loop: asyncio.AbstractEventLoop, item: QueueItem) -> None:
        run = _Run(item)
        self.current = run
        self.interrupt_flag.clear()
        started = time.time()
        try:
            validation, item.prepared = item.prepared, None  # used once: a run adds its ephemeral nodes to it
            result = loop.run_until_complete(self.executor.execute(
                item.prompt, item.prompt_id, lambda event: self._on_event(run, event),
                extra_data=item.extra_data, targets=item.outputs, interrupt=self.interrupt_flag,
                validation=validation))
            outputs, status_str, meta = dict(result.outputs or {}), result.status, dict(result.meta or {})
            run.ran, run.cached = len(getattr(result, "executed", ())), len(getattr(result, "cached", ()))
            if result.error and not run.failed:  # refused before any node ran (e.g. a model file vanished)
                self._record(run, "execution_error", {"prompt_id": item.prompt_id, **result.error,
                                                      "node_errors": result.node_errors})
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # the executor failed, or a node called
            # sys.exit() or raised KeyboardInterrupt (a real Ctrl-C reaches the main thread, never this one)
            log.exception("prompt %s failed outside any node", item.prompt_id)
            outputs, status_str, meta = dict(run.ui_outputs), "error", {}
            self._record(run, "execution_error", _failure_message(item.prompt_id, exc, node_id=run.last_node))
        self._end(run, outputs, status_str, meta, started)

    def _end(self, run: _Run, outputs: dict, status_str: str, meta: dict, started: float) -> None:
        pid = run.item.prompt_id
        if status_str == "interrupted" and self._stop.is_set():  # server shutting down: run it next time
            self.queue.release(run.item)
            self._send_held(run)
            self.current = None
            return
        status = make_status("success" if status_str == "success" else "error", status_str == "success",
                             run.messages)
        status["duration_s"] = round(time.time() - started, 3)
        log.info("prompt %s %s: %d nodes run, %d cached, %.2f s", pid, status_str, run.ran, run.cached,
                 status["duration_s"])
        try:
            entry = self.queue.finish(run.item, outputs, status, meta)
        except Exception:  # e.g. outputs that do not serialise: keep the status, drop the outputs
            log.exception("storing history for %s failed", pid)
            entry = self.queue.finish(run.item, {}, status, {})
        # The end marker goes out only now, so a client that sees it finds the history entry.
        run.ended = True
        self._send_held(run)
        self._send(run, "progress_state", run.tracker.end(run.final_state))
        self._send(run, "executing", {"node": None, "display_node": None, "prompt_id": pid})
        self.current = None
        self._post(self._finished, pid, entry)

    def _record(self, run: _Run, event: str, data: dict) -> None:
        run.messages.append([event, data])
        if event in ENDING_EVENTS:
            run.held.append((event, data))
        else:
            self._send(run, event, data)

    def _send_held(self, run: _Run) -> None:
        for event, data in run.held:
            self._send(run, event, data)
        run.held.clear()

    def _on_event(self, run: _Run, event: Any) -> None:
        try:
            self._handle_event(run, event.type, event.data)
        except Exception:
            log.exception("could not forward event %s", getattr(event, "type", event))

    def _handle_event(self, run: _Run, kind: str, data: dict) -> None:
        tracker = run.tracker
        if kind == "preview":
            node = data.get("node") or run.last_node
            encoded, fmt = encode_preview(data["image"], data.get("format"))
            meta = {"node_id": node, "prompt_id": run.item.prompt_id, "display_node_id": node,
                    "parent_node_id": None, "real_node_id": node}
            self._post(self.hub.send_preview, *preview_frames(encoded, fmt, meta), run.client_id)
            return
        if kind in HISTORY_EVENTS:
            if kind == "execution_error" and self.folders is not None:  # clients see input/x.png, not /srv/...
                data = {**data, "exception_message": self.folders.hide_layout(str(data.get("exception_message", "")))}
            if kind == "execution_cached":
                tracker.cached(data.get("nodes") or [])
            self._record(run, kind, data)
            return
        if kind == "executing":
            if data.get("node") is not None:  # the executor's end marker is re-sent by _end, after history
                run.last_node = data["node"]
                self._send(run, "executing", data)
                self._send(run, "progress_state", tracker.start(data["node"]))
            return
        if kind == "progress":
            self._send(run, kind, data)
            self._send(run, "progress_state", tracker.step(data.get("node") or run.last_node,
                                                           data.get("value", 0), data.get("max", 1)))
            return
        if kind == "executed":
            run.ui_outputs[data.get("node")] = data.get("output")
        self._send(run, kind, data)
