"""Load test: N websocket clients on loopback each queue a small workflow on a fresh Loom server.

Prints prompts/s, p50/p99 latency from submit to `executing` null, websocket bytes per prompt,
and whether any client received a message about someone else's prompt. Starts its own server
(`python main.py --port 0`) in a temporary folder; bounded by --clients, --prompts and --timeout.

    python benchmarks/server_load.py --clients 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def small_workflow(index: int, size: int) -> dict:
    """EmptyImage (a colour unique to the prompt, so nothing is cached) -> ImageInvert -> PreviewImage."""
    return {"1": {"class_type": "EmptyImage", "inputs": {"width": size, "height": size, "batch_size": 1,
                                                         "color": index * 7919 % 0xFFFFFF}},
            "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
            "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}}}


def chain_workflow(length: int) -> dict:
    """EmptyImage -> ImageInvert x (length - 2) -> PreviewImage: `length` nodes in a line."""
    prompt = {"0": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 1}}}
    for i in range(1, length - 1):
        prompt[str(i)] = {"class_type": "ImageInvert", "inputs": {"image": [str(i - 1), 0]}}
    prompt["out"] = {"class_type": "PreviewImage", "inputs": {"images": [str(length - 2), 0]}}
    return prompt


async def measure_chain(url: str, length: int) -> tuple[int, int, float]:
    """(messages, bytes, seconds) one client receives for one `length`-node prompt."""
    async with aiohttp.ClientSession() as session, session.ws_connect(f"{url}/ws?clientId=chain") as ws:
        await ws.receive()
        began = time.perf_counter()
        async with session.post(f"{url}/prompt", json={"prompt": chain_workflow(length),
                                                       "client_id": "chain"}) as response:
            prompt_id = (await response.json())["prompt_id"]
        messages = size = 0
        async for msg in ws:
            messages, size = messages + 1, size + len(msg.data)
            data = json.loads(msg.data)["data"] if msg.type == aiohttp.WSMsgType.TEXT else {}
            if data.get("prompt_id") == prompt_id and "node" in data and data["node"] is None:
                return messages, size, time.perf_counter() - began
    raise RuntimeError("the websocket closed before the chain finished")


@dataclass
class ClientResult:
    latencies: list[float] = field(default_factory=list)
    bytes_received: int = 0
    messages: int = 0
    status_bytes: int = 0  # queue-length broadcasts, which every client receives
    foreign: int = 0  # messages about prompts this client did not submit
    failures: list[str] = field(default_factory=list)


async def run_client(session: aiohttp.ClientSession, url: str, index: int, prompts: int, size: int,
                     start: asyncio.Event) -> ClientResult:
    result = ClientResult()
    client_id = f"bench-{index}"
    async with session.ws_connect(f"{url}/ws?clientId={client_id}", max_msg_size=0) as ws:
        await ws.receive()  # the initial status
        await start.wait()
        mine: set[str] = set()
        for n in range(prompts):
            submitted = time.perf_counter()
            body = {"prompt": small_workflow(index * prompts + n, size), "client_id": client_id}
            async with session.post(f"{url}/prompt", json=body) as response:
                answer = await response.json()
            if response.status != 200:
                result.failures.append(str(answer))
                continue
            prompt_id = answer["prompt_id"]
            mine.add(prompt_id)
            async for msg in ws:
                result.messages += 1
                result.bytes_received += len(msg.data) if isinstance(msg.data, (str, bytes)) else 0
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                message = json.loads(msg.data)
                data = message["data"]
                if message["type"] == "status":
                    result.status_bytes += len(msg.data)
                if data.get("prompt_id") is not None and data["prompt_id"] not in mine:
                    result.foreign += 1
                if data.get("prompt_id") == prompt_id and "node" in data and data["node"] is None:
                    result.latencies.append(time.perf_counter() - submitted)
                    break
    return result


def start_server(base: Path) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "main.py", "--port", "0", "--base-directory", str(base)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        found = re.search(r"serving on (http://[\d.]+:\d+)", line)
        if found:
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, found.group(1)
    raise RuntimeError("the server did not start")


async def measure(url: str, clients: int, prompts: int, size: int) -> tuple[list[ClientResult], float]:
    start = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=clients * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.ensure_future(run_client(session, url, i, prompts, size, start)) for i in range(clients)]
        await asyncio.sleep(0.5)  # let every socket connect before the clock starts
        began = time.perf_counter()
        start.set()
        results = await asyncio.gather(*tasks)
        return results, time.perf_counter() - began


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100, help="websocket clients, each queueing --prompts prompts")
    parser.add_argument("--prompts", type=int, default=1, help="prompts per client")
    parser.add_argument("--size", type=int, default=64, help="image side of the workflow, pixels")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds")
    parser.add_argument("--chain", type=int, default=1000,
                        help="also run one prompt of this many nodes in a line and report its traffic (0: skip)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loom-load-") as base:
        proc, url = start_server(Path(base))
        try:
            results, elapsed = asyncio.run(asyncio.wait_for(
                measure(url, args.clients, args.prompts, args.size), args.timeout))
            chain = asyncio.run(asyncio.wait_for(measure_chain(url, args.chain), args.timeout)) if args.chain else None
        finally:
            proc.terminate()
            proc.wait(30)
    latencies = [lat for r in results for lat in r.latencies]
    done = len(latencies)
    total_bytes = sum(r.bytes_received for r in results)
    print(f"clients: {args.clients}, prompts: {args.clients * args.prompts}, completed: {done}, "
          f"failed submissions: {sum(len(r.failures) for r in results)}")
    print(f"prompts/s: {done / elapsed:.1f}  (wall {elapsed:.2f} s)")
    if latencies:
        print(f"latency submit -> executing null: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
              f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, mean {statistics.mean(latencies) * 1000:.0f} ms")
    status_bytes = sum(r.status_bytes for r in results)
    print(f"websocket traffic: {total_bytes / max(done, 1):.0f} bytes/prompt "
          f"({(total_bytes - status_bytes) / max(done, 1):.0f} about the prompt itself, "
          f"{status_bytes / max(done, 1):.0f} queue-status broadcasts to all clients), "
          f"{sum(r.messages for r in results) / max(done, 1):.1f} messages/prompt")
    if chain:
        count, size, seconds = chain
        print(f"{args.chain}-node chain: {count} websocket messages, {size / 1e6:.2f} MB "
              f"({size / args.chain:.0f} bytes/node), {seconds:.1f} s")
    foreign = sum(r.foreign for r in results)
    print(f"messages delivered to the wrong client: {foreign}")
    return 0 if done == args.clients * args.prompts and foreign == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
