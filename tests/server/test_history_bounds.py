"""History stays bounded, and keeping it bounded costs the same at 50 entries as at 20,000: trimming and
reading the newest entries walk the primary-key index, never the whole table.

Cost is counted in SQLite virtual-machine steps (a progress handler), which is exact and repeatable,
unlike a timing."""

from __future__ import annotations

import json

from engine.queue import PromptQueue, QueueItem, make_status


def fill(queue: PromptQueue, count: int) -> None:
    """`count` small history entries written straight to the table (fast), as a long-running server has."""
    entry = json.dumps({"prompt": [], "outputs": {}, "status": make_status("success", True, []), "meta": {}})
    with queue._db:
        queue._db.executemany("INSERT INTO history (prompt_id, entry) VALUES (?, ?)",
                              ((f"old{i}", entry) for i in range(count)))
    queue.close()


def steps(queue: PromptQueue, action) -> int:
    """SQLite VM steps (in units of 10) that `action()` costs."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    queue._db.set_progress_handler(tick, 10)
    try:
        action()
    finally:
        queue._db.set_progress_handler(None, 0)
    return counted[0]


def finish_one(queue: PromptQueue, prompt_id: str) -> None:
    queue.put(QueueItem(queue.next_number(), prompt_id, {}, {}, []))
    queue.finish(queue.claim(0), {}, make_status("success", True, []))


def cost_at(tmp_path, entries: int) -> tuple[int, int, PromptQueue]:
    """(steps to finish a prompt, steps to read the newest 64) with `entries` in a full history."""
    path = tmp_path / f"q{entries}.db"
    fill(PromptQueue(path), entries)
    queue = PromptQueue(path, max_history=entries)
    finish_one(queue, "warm")
    return (steps(queue, lambda: finish_one(queue, "new")), steps(queue, lambda: queue.history(64)), queue)


def test_finishing_a_prompt_and_reading_recent_history_cost_the_same_at_any_history_size(tmp_path):
    small_finish, small_read, _ = cost_at(tmp_path, 50)
    large_finish, large_read, queue = cost_at(tmp_path, 20_000)
    assert large_finish < 2 * small_finish + 50, (small_finish, large_finish)
    assert large_read < 2 * small_read + 50, (small_read, large_read)
    history = queue.history()
    assert len(history) == 20_000 and list(history)[-2:] == ["warm", "new"] and "old0" not in history


def test_history_keeps_exactly_the_newest_entries_across_deletes_and_reopening(tmp_path):
    queue = PromptQueue(tmp_path / "q.db", max_history=3)
    for i in range(5):
        finish_one(queue, f"p{i}")
    assert list(queue.history()) == ["p2", "p3", "p4"]
    queue.delete_history(["p3"])
    finish_one(queue, "p5")
    assert list(queue.history()) == ["p2", "p4", "p5"]
    queue.close()
    reopened = PromptQueue(tmp_path / "q.db", max_history=3)
    finish_one(reopened, "p6")
    assert list(reopened.history()) == ["p4", "p5", "p6"]
    assert list(reopened.history(max_items=2)) == ["p5", "p6"]
