"""Scale-out figures: throughput of a CPU-bound workflow on the in-process executor and on 1 and 2 Ray
workers, and the dispatch overhead per prompt (a trivial workflow, Ray vs in-process).

Runs a Loom front in this process (aiohttp on loopback, the real queue, lanes and websocket) and a
local Ray instance; prompts go through POST /prompt and finish at their websocket end marker.

    python benchmarks/scaleout.py --prompts 12 --burn 0.2 --trivial 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient, TestServer

PACKS = Path(__file__).resolve().parent / "packs"
sys.path.insert(0, str(PACKS.parents[1]))  # the Loom checkout


def burn_prompt(seconds: float, seed: int) -> dict:
    return {"1": {"class_type": "LoomBenchBurn", "inputs": {"seconds": seconds, "seed": seed}},
            "2": {"class_type": "LoomBenchShow", "inputs": {"value": ["1", 0]}}}


def trivial_prompt(seed: int) -> dict:
    return {"1": {"class_type": "LoomBenchShow", "inputs": {"value": seed}}}


async def start_front(args, base: Path, executor, worker_factory) -> TestClient:
    from engine.queue import PromptQueue
    from launch.serve import build_engine
    from web.app import create_app
    from web.state import ServerConfig

    folders, registry, _, local = build_engine(args, base)
    queue = PromptQueue(Path(tempfile.mkdtemp(dir=base)) / "queue.sqlite3")
    app = create_app(ServerConfig(folders=folders), registry, executor or local, queue, worker_factory)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


async def throughput(client: TestClient, prompts: list[dict]) -> float:
    """Prompts per second: all queued at once, until the last end marker."""
    ws = await client.ws_connect("/ws?clientId=bench")
    started = time.perf_counter()
    waiting = set()
    for prompt in prompts:
        answer = await (await client.post("/prompt", json={"prompt": prompt, "client_id": "bench"})).json()
        waiting.add(answer["prompt_id"])
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            message = json.loads(msg.data)
            if message["type"] == "executing" and message["data"].get("node") is None:
                waiting.discard(message["data"]["prompt_id"])
                if not waiting:
                    break
    elapsed = time.perf_counter() - started
    await ws.close()
    return len(prompts) / elapsed


async def latency(client: TestClient, prompts: list[dict]) -> float:
    """Median seconds from POST /prompt?wait=true to its answer, one prompt at a time."""
    times = []
    for prompt in prompts:
        started = time.perf_counter()
        answer = await (await client.post("/prompt?wait=true", json={"prompt": prompt})).json()
        assert answer["history"]["status"]["status_str"] == "success", answer
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def measure(args, base: Path, executor, worker_factory, opts) -> tuple[float, float]:
    client = await start_front(args, base, executor, worker_factory)
    try:
        await latency(client, [trivial_prompt(-1), burn_prompt(0.01, 10**6)])  # warm-up
        rate = await throughput(client, [burn_prompt(opts.burn, i) for i in range(opts.prompts)])
        overhead = await latency(client, [trivial_prompt(i) for i in range(opts.trivial)])
    finally:
        await client.close()
    return rate, overhead


async def main(opts: argparse.Namespace) -> None:
    from engine.scaleout.executor import RayExecutor
    from engine.scaleout.pool import WorkerPool, start_pool
    from launch.cli import build_parser
    from launch.serve import build_engine
    from web.lanes import PromptLanes

    load_before = os.getloadavg()[0]
    base = Path(tempfile.mkdtemp(prefix="loom-scaleout-"))
    args = build_parser().parse_args(["--base-directory", str(base), "--custom-nodes-dir", str(PACKS), "--cpu"])
    figures = {"in-process": await measure(args, base, None, None, opts)}
    pool = await asyncio.to_thread(start_pool, args, base, build_engine, workers=2, num_cpus=opts.cpus, log_to_driver=False)
    try:
        for count in (1, 2):
            sub = WorkerPool(pool.workers[:count])
            figures[f"ray x{count}"] = await measure(args, base, RayExecutor(sub), PromptLanes, opts)
    finally:
        pool.shutdown()
    print(f"machine: {os.cpu_count()} cores, load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after"
          " (other processes compete with the workers for the cores)")
    print(f"{opts.prompts} prompts burning {opts.burn:.2f} s CPU each; {opts.trivial} trivial prompts one at a time")
    for name, (rate, overhead) in figures.items():
        print(f"  {name:<11} {rate:6.2f} prompts/s   trivial prompt round trip {overhead * 1000:7.1f} ms")
    local_rate, local_latency = figures["in-process"]
    print(f"  2 vs 1 Ray workers: {figures['ray x2'][0] / figures['ray x1'][0]:.2f}x throughput; "
          f"ray x1 vs in-process: {figures['ray x1'][0] / local_rate:.2f}x")
    print(f"  dispatch overhead per prompt (Ray - in-process): "
          f"{(figures['ray x1'][1] - local_latency) * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=12, help="CPU-bound prompts per configuration")
    parser.add_argument("--burn", type=float, default=0.2, help="CPU seconds each CPU-bound prompt spends")
    parser.add_argument("--trivial", type=int, default=40, help="trivial prompts for the round-trip figure")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    asyncio.run(main(parser.parse_args()))
