"""History at scale: the cost of finishing a prompt (store + trim) and of GET /history?max_items=64 as the
history grows to 100,000 entries, against the same operations at 100 entries (the reference).

    python benchmarks/history.py [--entries 100000]

Prints milliseconds per operation at each size and the ratio to the 100-entry figures; a bounded, indexed
history keeps every ratio near 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.paths import Folders
from engine.queue import PromptQueue, QueueItem, make_status
from web.app import create_app
from web.state import ServerConfig

ENTRY = json.dumps({"prompt": [1, "x", {"1": {"class_type": "SaveImage", "inputs": {"filename_prefix": "Loom"}}},
                               {}, ["1"]],
                    "outputs": {"1": {"images": [{"filename": "Loom_00001_.png", "subfolder": "", "type": "output"}]}},
                    "status": make_status("success", True, []), "meta": {}})


def fill(path: Path, count: int) -> None:
    queue = PromptQueue(path)
    with queue._db:
        queue._db.executemany("INSERT INTO history (prompt_id, entry) VALUES (?, ?)",
                              ((f"old{i}", ENTRY) for i in range(count)))
    queue.close()


def finish_ms(queue: PromptQueue, rounds: int) -> float:
    started = time.perf_counter()
    for i in range(rounds):
        queue.put(QueueItem(queue.next_number(), f"bench{i}", {}, {}, []))
        queue.finish(queue.claim(0), {}, make_status("success", True, []))
    return (time.perf_counter() - started) * 1000 / rounds


async def history_ms(folders: Folders, queue: PromptQueue, rounds: int) -> float:
    app = create_app(ServerConfig(folders=folders), None, None, queue, worker_factory=_NoWorker)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        started = time.perf_counter()
        for _ in range(rounds):
            response = await client.get("/history", params={"max_items": "64"})
            assert len(await response.json()) == 64
        return (time.perf_counter() - started) * 1000 / rounds
    finally:
        await client.close()


class _NoWorker:
    """The routes' worker interface, running nothing: only the history is measured."""

    def __init__(self, *args):
        self.on_finished = []

    def start(self) -> None: ...

    async def stop(self) -> None: ...

    def connect_messages(self, client_id: str) -> list:
        return []


async def measure(entries: int, rounds: int) -> tuple[float, float]:
    base = Path(tempfile.mkdtemp(prefix="loom-history-"))
    folders = Folders(base)
    fill(folders.user_dir / "queue.sqlite3", entries)
    queue = PromptQueue(folders.user_dir / "queue.sqlite3", max_history=entries)
    return finish_ms(queue, rounds), await history_ms(folders, queue, rounds)


async def main(opts: argparse.Namespace) -> None:
    reference = await measure(100, opts.rounds)
    print(f"{'entries':>8} {'finish ms':>10} {'ratio':>6} {'GET /history?max_items=64 ms':>29} {'ratio':>6}")
    for entries in (100, 10_000, opts.entries):
        finish, read = reference if entries == 100 else await measure(entries, opts.rounds)
        print(f"{entries:>8} {finish:>10.3f} {finish / reference[0]:>6.2f} {read:>29.3f} {read / reference[1]:>6.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
