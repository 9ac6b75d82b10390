"""Messages other threads hand to the event loop: order kept, batches paced, progress_state bursts merged."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time

from web import loop_outbox
from web.loop_outbox import LoopOutbox, Message, merge_progress


def _progress(node: str, state: str, done: int, prompt: str = "p", client: str = "c") -> Message:
    return Message("progress_state", {"prompt_id": prompt, "nodes": {node: {"state": state}},
                                      "overall": {"nodes_done": done}}, client)


def test_progress_states_of_a_burst_merge_into_the_last_keeping_each_nodes_latest_state():
    items = [Message("executing", {"node": "1"}, "c"), _progress("1", "running", 0),
             Message("executing", {"node": "2"}, "c"), _progress("1", "finished", 1),
             _progress("2", "running", 1), Message("executed", {"node": "2"}, "c"), _progress("2", "finished", 2)]
    merged = merge_progress(items)
    assert [(m.event, m.data.get("node")) for m in merged] == [
        ("executing", "1"), ("executing", "2"), ("executed", "2"), ("progress_state", None)]
    assert merged[-1].data == {"prompt_id": "p", "overall": {"nodes_done": 2},
                               "nodes": {"1": {"state": "finished"}, "2": {"state": "finished"}}}
    assert items[1].data["nodes"] == {"1": {"state": "running"}}  # the original messages are left as they were


def test_progress_states_of_other_prompts_or_clients_stay_apart():
    merged = merge_progress([_progress("1", "running", 0), _progress("9", "running", 0, prompt="q"),
                             _progress("1", "running", 0, client="other"), _progress("1", "finished", 1)])
    assert [(m.client_id, m.data["prompt_id"], m.data["overall"]["nodes_done"]) for m in merged] == [
        ("c", "q", 0), ("other", "p", 0), ("c", "p", 1)]


async def test_messages_and_calls_from_another_thread_run_on_the_loop_in_order():
    seen: list = []
    outbox = LoopOutbox(asyncio.get_running_loop(), lambda batch: seen.extend((m.event, m.data["i"]) for m in batch))
    done = asyncio.Event()

    def produce():
        for i in range(500):
            outbox.message("executing", {"i": i}, "c")
            if i % 100 == 99:
                outbox.call(seen.append, ("call", i))
        outbox.call(done.set)

    thread = threading.Thread(target=produce)
    thread.start()
    await asyncio.wait_for(done.wait(), 10)
    thread.join()
    expected = []
    for i in range(500):
        expected.append(("executing", i))
        if i % 100 == 99:
            expected.append(("call", i))
    assert seen == expected


async def test_a_failing_delivery_does_not_drop_the_rest_of_the_batch():
    seen: list = []
    outbox = LoopOutbox(asyncio.get_running_loop(), lambda batch: seen.extend(m.event for m in batch))
    outbox.call(lambda: 1 / 0)
    outbox.message("executing", {}, None)
    await asyncio.sleep(0.05)
    assert seen == ["executing"]


async def test_a_steady_stream_goes_out_in_batches_no_closer_than_the_pace(monkeypatch):
    """A fast graph's per-node messages: one batch per PACE_S, not one per message or per millisecond."""
    monkeypatch.setattr(loop_outbox, "PACE_S", 0.2)
    loop = asyncio.get_running_loop()
    batches: list[tuple[float, list[int]]] = []
    outbox = LoopOutbox(loop, lambda batch: batches.append((loop.time(), [m.data["i"] for m in batch])))

    def produce():
        for i in range(60):
            outbox.message("executing", {"i": i}, "c")
            time.sleep(0.01)

    await asyncio.to_thread(produce)
    await asyncio.sleep(0.5)
    assert [i for _, items in batches for i in items] == list(range(60))
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(batches)]
    assert min(gaps) >= 0.19 and len(batches) <= 60 * 0.01 / 0.2 + 2


async def test_a_call_sends_what_waits_for_the_pace_at_once(monkeypatch):
    """A prompt's end (a call) must not wait out the pace: its client learns at once that it finished."""
    monkeypatch.setattr(loop_outbox, "PACE_S", 60.0)
    seen: list = []
    outbox = LoopOutbox(asyncio.get_running_loop(), lambda batch: seen.extend(m.event for m in batch))
    outbox.message("executing", {}, "c")
    for _ in range(100):  # the first message after a quiet spell goes out after GATHER_S
        await asyncio.sleep(0.01)
        if seen:
            break
    done = asyncio.Event()
    outbox.message("executed", {}, "c")  # would wait a minute behind the batch just sent
    outbox.call(done.set)
    await asyncio.wait_for(done.wait(), 10)
    assert seen == ["executing", "executed"]


async def _burst_from_a_thread(outbox: LoopOutbox, seen: list) -> int:
    """Send HANDOFF_MESSAGES messages from another thread; how many the loop delivered when the last send returned."""
    def produce() -> int:
        for i in range(loop_outbox.HANDOFF_MESSAGES):
            outbox.message("executed", {"i": i}, "c")
        return len(seen)

    return await asyncio.to_thread(produce)


async def test_a_burst_is_delivered_while_its_producer_waits(monkeypatch):
    """A cached run's outputs: the client reads the first of them while the worker makes the rest."""
    for name in ("GATHER_S", "PACE_S", "HANDOFF_BURST_S", "HANDOFF_WAIT_S"):  # only the hand-off may send
        monkeypatch.setattr(loop_outbox, name, 60.0)
    seen: list = []
    outbox = LoopOutbox(asyncio.get_running_loop(), lambda batch: seen.extend(m.data["i"] for m in batch))
    assert await _burst_from_a_thread(outbox, seen) == loop_outbox.HANDOFF_MESSAGES
    assert seen == list(range(loop_outbox.HANDOFF_MESSAGES))


async def test_a_slow_stream_is_not_handed_off_and_the_loop_never_waits_for_itself(monkeypatch):
    for name in ("GATHER_S", "PACE_S", "HANDOFF_WAIT_S"):
        monkeypatch.setattr(loop_outbox, name, 60.0)
    monkeypatch.setattr(loop_outbox, "HANDOFF_BURST_S", 0.0)  # every stream counts as slow
    seen: list = []
    outbox = LoopOutbox(asyncio.get_running_loop(), lambda batch: seen.extend(m.data["i"] for m in batch))
    assert await _burst_from_a_thread(outbox, seen) == 0
    monkeypatch.setattr(loop_outbox, "HANDOFF_BURST_S", 60.0)
    on_loop = LoopOutbox(asyncio.get_running_loop(), lambda batch: seen.extend(m.data["i"] for m in batch))
    began = time.monotonic()
    for i in range(loop_outbox.HANDOFF_MESSAGES):  # on the loop's own thread: a burst, but no waiting for itself
        on_loop.message("executed", {"i": i}, "c")
    assert time.monotonic() - began < 30
    await asyncio.sleep(0)
    assert seen == list(range(loop_outbox.HANDOFF_MESSAGES))  # handed over all the same
