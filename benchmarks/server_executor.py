"""Executor overhead through the server: vs_comfyui's 1,000-node chain and cached fan-out, over HTTP.

issue 16's executor targets (cold <= 50 µs per node on the chain, fully cached fan-out re-run <= 20 ms) are
measured by benchmarks/vs_comfyui.py through POST /prompt and the websocket. This script takes exactly those
figures from Loom alone (the same prompt builders, client and node count, imported from vs_comfyui), next to
the same prompts run in process by the Executor, so the ratio shows what the server path costs. It also
prints the server process's CPU time per run: on a shared machine the wall time mostly measures the others.

    python benchmarks/server_executor.py                 # figures: median and best of --repeats runs
    python benchmarks/server_executor.py --profile 25    # also cProfile every server thread, top 25 rows
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.vs_comfyui import GRAPH_NODES, chain, fan_out, run_prompt, wait_ready


def process_cpu_s(pid: int) -> float:
    """CPU seconds all threads of a process have run so far (nanosecond schedstat, not 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            pass
    return total / 1e9


def server_args(base: Path, port: int) -> list[str]:
    return ["--cpu", "--port", str(port), "--base-directory", str(base)]


async def server_figures(url: str, pid: int, repeats: int, timeout: float) -> dict[str, list[float]]:
    """Per run: chain wall µs/node (a fresh colour: cold), cached fan-out wall ms, and the server's CPU."""
    figures: dict[str, list[float]] = {"chain_us": [], "chain_cpu_us": [], "fanout_ms": [], "fanout_cpu_ms": []}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        # The server answers before its nodes have loaded (POST /prompt waits for them): not part of a figure.
        await run_prompt(session, url, chain(10, 1), timeout)
        for repeat in range(repeats):
            cpu = process_cpu_s(pid)
            run = await run_prompt(session, url, chain(GRAPH_NODES, 2000 + repeat), timeout)
            if run.error:
                raise RuntimeError(f"chain: {run.error}")
            figures["chain_us"].append(run.seconds / GRAPH_NODES * 1e6)
            figures["chain_cpu_us"].append((process_cpu_s(pid) - cpu) / GRAPH_NODES * 1e6)
        prompt = fan_out(GRAPH_NODES + 1)
        first = await run_prompt(session, url, prompt, timeout)
        if first.error:
            raise RuntimeError(f"fan-out: {first.error}")
        for _ in range(repeats):
            cpu = process_cpu_s(pid)
            run = await run_prompt(session, url, prompt, timeout)
            figures["fanout_ms"].append(run.seconds * 1e3)
            figures["fanout_cpu_ms"].append((process_cpu_s(pid) - cpu) * 1e3)
    return figures


def through_server(args, base: Path) -> dict[str, list[float]]:
    """Start `main.py` (or the profiling wrapper) on loopback, take the figures, stop it with SIGINT."""
    command = [sys.executable, "main.py", *server_args(base, args.port)]
    if args.profile:
        command = [sys.executable, __file__, "--serve-profiled", str(base / "profiles"), *server_args(base, args.port)]
    with open(base / "server.log", "w") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{args.port}"
            asyncio.run(wait_ready(url, process, args.timeout))
            return asyncio.run(server_figures(url, process.pid, args.repeats, args.timeout))
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)


def in_process(args, base: Path) -> dict[str, list[float]]:
    """The same prompts through the server's own Executor and registry, in this process."""
    from launch.cli import build_parser
    from launch.serve import build_engine

    *_, executor = build_engine(build_parser().parse_args(server_args(base, args.port)), ROOT)
    executor.run(chain(10, 1))  # as the server's warm-up
    figures: dict[str, list[float]] = {"chain_us": [], "fanout_ms": []}
    for repeat in range(args.repeats):
        began = time.perf_counter()
        assert executor.run(chain(GRAPH_NODES, 3000 + repeat)).ok
        figures["chain_us"].append((time.perf_counter() - began) / GRAPH_NODES * 1e6)
    prompt = fan_out(GRAPH_NODES + 1)
    assert executor.run(prompt).ok
    for _ in range(args.repeats):
        began = time.perf_counter()
        assert executor.run(prompt).ok
        figures["fanout_ms"].append((time.perf_counter() - began) * 1e3)
    return figures


def report(server: dict[str, list[float]], local: dict[str, list[float]]) -> None:
    rows = [("chain_us", f"{GRAPH_NODES}-node chain, cold (µs/node)", 50.0),
            ("fanout_ms", f"{GRAPH_NODES}-node fan-out, cached re-run (ms)", 20.0)]
    print(f"{'figure':42s} {'server':>9s} {'(best)':>9s} {'srv CPU':>9s} {'in proc':>9s} {'ratio':>7s} {'target':>7s}")
    for key, label, target in rows:
        wall, cpu, inproc = (statistics.median(server[key]), statistics.median(server[key.replace("_", "_cpu_")]),
                             statistics.median(local[key]))
        print(f"{label:42s} {wall:9.1f} {min(server[key]):9.1f} {cpu:9.1f} {inproc:9.1f} "
              f"{wall / inproc:7.2f} {target:7.0f}")


def serve_profiled(profile_dir: Path, argv: list[str]) -> None:
    """Run the server with a cProfile per thread (event loop, prompt worker, validation threads); each thread
    writes its stats when it ends, which SIGINT's orderly shutdown brings about. The profiles count each
    thread's CPU time: on a shared machine wall time mostly measures the other processes."""
    profile_dir.mkdir(parents=True, exist_ok=True)
    original_run = threading.Thread.run

    def profiled_run(thread: threading.Thread) -> None:
        profiler = cProfile.Profile(time.thread_time)
        profiler.enable()
        try:
            original_run(thread)
        finally:
            profiler.disable()
            profiler.dump_stats(profile_dir / f"{thread.name}-{thread.ident}.prof")

    threading.Thread.run = profiled_run
    from launch.cli import main

    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    try:
        main(argv, base_dir=ROOT)
    finally:
        profiler.disable()
        profiler.dump_stats(profile_dir / "event-loop.prof")


def print_profiles(profile_dir: Path, rows: int) -> None:
    """Top rows by own time, per thread kind (worker / event loop / validation threads)."""
    groups: dict[str, list[Path]] = {}
    for path in sorted(profile_dir.glob("*.prof")):
        kind = "worker" if "worker" in path.name else "event-loop" if path.name == "event-loop.prof" else "helpers"
        groups.setdefault(kind, []).append(path)
    for kind, paths in groups.items():
        print(f"\n==== {kind} ({len(paths)} thread(s)) ====")
        stats = pstats.Stats(*map(str, paths))
        stats.sort_stats("tottime").print_stats(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per figure (default 7)")
    parser.add_argument("--port", type=int, default=19150, help="the server's port (default 19150)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per prompt / start-up")
    parser.add_argument("--profile", type=int, default=0, metavar="ROWS",
                        help="profile the server's threads and print this many rows per thread kind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loom-server-executor-") as tmp:
        base = Path(tmp)
        server = through_server(args, base)
        local = in_process(args, base)
        print(f"Loom through HTTP + websocket vs in process; median of {args.repeats} runs "
              f"(server CPU = the server process's CPU time per run)")
        report(server, local)
        if args.profile:
            print_profiles(base / "profiles", args.profile)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--serve-profiled":
        serve_profiled(Path(sys.argv[2]), sys.argv[3:])
    else:
        main()
