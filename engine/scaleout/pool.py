"""The Ray workers as the front sees them: started from the server's flags, handed out one prompt at a
time by model affinity, and brought back after a crash (Ray restarts a killed actor's process).
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from engine.scaleout.actor import PromptActor
from engine.scaleout.affinity import WorkerState, choose_worker

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]  # the Loom checkout; workers import from the same path
RESTART_WAIT_S = 300.0


def init_ray(address: str | None = None, **options: Any) -> None:
    """Join the cluster at `address` (or start one on this machine) unless Ray is already up."""
    if ray.is_initialized():
        return
    if address is None:  # a private instance, even when `ray start` left a cluster address behind
        address = "local"
        options.setdefault("include_dashboard", False)
    # One malloc arena per worker process, as launch/allocator.py gives the server: its prompts run in a thread
    # of the actor, whose own arena slowed a UNet step by a quarter. Set at the process start, before any thread.
    env = {"PYTHONPATH": str(ROOT), "MALLOC_ARENA_MAX": "1"}
    ray.init(address=address, runtime_env={"env_vars": env}, **options)


@dataclass(eq=False)
class Worker:
    """One actor and its placement state."""

    state: WorkerState
    actor: Any
    pid: int | None = None
    host: str = ""
    frees: list = field(default_factory=list)  # free() calls the next prompt here waits for


class WorkerPool:
    """Thread-safe: the prompt lanes acquire and release workers; a lost worker is watched until back."""

    def __init__(self, workers: list[Worker]):
        self.workers = workers
        self._cond = threading.Condition()
        self._running: dict[str, Worker] = {}
        self._closed = False

    @property
    def size(self) -> int:
        return len(self.workers)

    def acquire(self, prompt_id: str, keys: frozenset[str]) -> Worker:
        """Wait for an idle worker, the best one for `keys`, and mark it busy with `prompt_id`."""
        with self._cond:
            while (state := choose_worker(keys, [w.state for w in self.workers])) is None:
                if self._closed:
                    raise RuntimeError("the Ray worker pool is shut down")
                self._cond.wait(0.5)
            worker = next(w for w in self.workers if w.state is state)
            state.busy = True
            self._running[prompt_id] = worker
            frees, worker.frees = worker.frees, []
        if frees:  # a /free sent before this prompt applies first
            ray.wait(frees, num_returns=len(frees), timeout=30)
        return worker

    def release(self, prompt_id: str, worker: Worker, keys: frozenset[str], seconds: float) -> None:
        """`worker` finished `prompt_id` (whatever the outcome); its models now include `keys`."""
        with self._cond:
            self._running.pop(prompt_id, None)
            worker.state.busy = False
            worker.state.remember(keys, seconds)
            self._cond.notify_all()

    def lost(self, prompt_id: str, worker: Worker) -> None:
        """`worker` died running `prompt_id`: stop scheduling on it until Ray has restarted it."""
        with self._cond:
            self._running.pop(prompt_id, None)
            worker.state.busy, worker.state.alive = False, False
            worker.state.forget_models()
        log.warning("Ray worker %s (pid %s) lost running prompt %s", worker.state.name, worker.pid, prompt_id)
        worker.actor.interrupt.remote(prompt_id)  # if it was only unreachable, it must not finish the prompt too
        threading.Thread(target=self._await_restart, args=(worker,), daemon=True,
                         name=f"loom-{worker.state.name}-restart").start()

    def _await_restart(self, worker: Worker) -> None:
        deadline = time.monotonic() + RESTART_WAIT_S
        while not self._closed and time.monotonic() < deadline:
            try:
                info = ray.get(worker.actor.info.remote(), timeout=10)
            except (RayActorError, GetTimeoutError):
                time.sleep(0.5)
                continue
            with self._cond:
                worker.pid, worker.state.alive = info["pid"], True
                self._cond.notify_all()
            log.info("Ray worker %s is back (pid %s)", worker.state.name, worker.pid)
            return
        log.error("Ray worker %s did not come back; continuing without it", worker.state.name)

    def worker_of(self, prompt_id: str) -> Worker | None:
        with self._cond:
            return self._running.get(prompt_id)

    def free(self, unload_models: bool) -> None:
        """Every live worker drops its cached outputs (and its models), between its prompts."""
        with self._cond:
            live = [w for w in self.workers if w.state.alive]
            if unload_models:
                for worker in live:
                    worker.state.forget_models()
            for worker in live:
                worker.frees.append(worker.actor.free.remote(unload_models))

    def shutdown(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for worker in self.workers:
            ray.kill(worker.actor, no_restart=True)


def start_pool(args: argparse.Namespace, base_dir: Path, build_engine: Callable[..., tuple],
               address: str | None = None, workers: int = 0, **ray_options: Any) -> WorkerPool:
    """One actor per GPU in the cluster (or `workers` of them; CPU workers where there is no GPU), each
    building its engine from `args` with `build_engine` (launch.serve.build_engine)."""
    init_ray(address, **ray_options)
    resources = ray.cluster_resources()
    gpus = 0 if getattr(args, "cpu", False) else int(resources.get("GPU", 0))
    count = workers or gpus or max(1, int(resources.get("CPU", 1)))
    if gpus and count > gpus:
        raise ValueError(f"--ray-workers {count}: the Ray cluster has {gpus} GPUs and a worker takes one; "
                         "start fewer workers, or pass --cpu for CPU workers")
    options: dict[str, Any] = {"num_cpus": 1, "max_concurrency": 4, "max_restarts": -1, "max_task_retries": 0}
    if gpus:
        options["num_gpus"] = 1
    remote = ray.remote(PromptActor).options(**options)
    flags, base = dict(vars(args)), str(Path(base_dir).absolute())
    actors = [remote.remote(f"ray-{i + 1}", flags, base, build_engine) for i in range(count)]
    infos = ray.get([actor.info.remote() for actor in actors])
    pool = WorkerPool([Worker(WorkerState(info["name"]), actor, info["pid"], info["host"])
                       for actor, info in zip(actors, infos, strict=True)])
    log.info("Ray workers ready: %s", ", ".join(f"{w.state.name}@{w.host} (pid {w.pid})" for w in pool.workers))
    return pool
