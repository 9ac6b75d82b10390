"""The Executor: validate a prompt, reuse cached outputs, run what the requested outputs need, report events.

    ex = Executor(registry)                      # cache=CachePolicy.classic() | .lru(n) | .none()
    result = ex.run(prompt, "p1", sink=print)    # or: await ex.execute(...)
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from engine.graph import events as ev
from engine.graph.cache import CachePolicy, OutputCache
from engine.graph.context import ExecutionInterrupted, Interrupt
from engine.graph.events import Event, EventSink, null_sink
from engine.graph.scheduler import NodeFailure, PromptRun
from engine.graph.validation import ValidationResult, validate_prompt


@dataclass(repr=False)
class ExecutionResult:
    """What happened: status, UI outputs per node, the error, which nodes ran or were cached, timings.

    Its repr is a summary: asyncio.run formats its main task, result included, when it puts the SIGINT
    handler back, and the full dataclass repr of a 500-output result cost 5 ms per headless run."""

    prompt_id: str
    status: Literal["success", "error", "interrupted"]
    outputs: dict[str, dict] = field(default_factory=dict)
    error: dict | None = None
    executed: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    node_errors: dict[str, dict] = field(default_factory=dict)
    dropped_outputs: list[str] = field(default_factory=list)
    meta: dict[str, dict] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __repr__(self) -> str:
        return (f"ExecutionResult({self.prompt_id!r}, {self.status!r}, {len(self.outputs)} outputs, "
                f"{len(self.executed)} executed, {len(self.cached)} cached)")


def qualified_name(exc_type: type) -> str:
    """`module.QualName`, or just the name for builtins (as ComfyUI reports exception_type)."""
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"


class Executor:
    """Runs prompts one at a time against a registry, keeping an output cache between prompts."""

    def __init__(self, registry: Any, cache: CachePolicy | None = None):
        self.registry = registry
        self.cache = OutputCache(cache or CachePolicy.classic())
        self.objects: dict[tuple[str, str], Any] = {}

    def reset(self) -> None:
        """Forget cached outputs and node instances (the server's /free)."""
        self.cache.clear()
        self.objects.clear()

    def run(self, prompt: dict, prompt_id: str | None = None, sink: EventSink = null_sink,
            extra_data: dict | None = None, targets: list[str] | None = None,
            interrupt: Interrupt | None = None) -> ExecutionResult:
        """Synchronous wrapper around `execute` (CLI, tests)."""
        return asyncio.run(self.execute(prompt, prompt_id or uuid.uuid4().hex, sink, extra_data, targets, interrupt))

    async def execute(self, prompt: dict, prompt_id: str, sink: EventSink = null_sink,
                      extra_data: dict | None = None, targets: list[str] | None = None,
                      interrupt: Interrupt | None = None, validation: ValidationResult | None = None
                      ) -> ExecutionResult:
        """Validate and run `prompt`; events go to `sink` from the calling thread. `validation`: this very
        prompt's, done on submission (the server's POST /prompt), spares validating it twice; the run
        consumes it (adds its ephemeral nodes)."""
        validation = validation or validate_prompt(prompt, self.registry, targets)
        if not validation.ok:
            return ExecutionResult(prompt_id, "error", error=validation.error, node_errors=validation.node_errors,
                                   dropped_outputs=validation.dropped_outputs)
        interrupt = interrupt or Interrupt()
        interrupt.clear()
        run = PromptRun(registry=self.registry, cache=self.cache, objects=self.objects, nodes=validation.nodes,
                        prompt=prompt, prompt_id=prompt_id, sink=sink, extra_data=extra_data or {},
                        interrupt=interrupt, services=self.registry.services)
        result = ExecutionResult(prompt_id, "success", node_errors=validation.node_errors,
                                 dropped_outputs=validation.dropped_outputs)
        sink(Event(ev.EXECUTION_START, {"prompt_id": prompt_id, "timestamp": ev.timestamp_ms()}))
        try:
            await self._prepare(run, validation, prompt)
            sink(Event(ev.EXECUTION_CACHED, {"nodes": list(run.hits), "prompt_id": prompt_id,
                                             "timestamp": ev.timestamp_ms()}))
            run.start_roots(validation.good_outputs)
            await run.loop()
        except ExecutionInterrupted:
            _interrupted(run, result)
        except Exception as caught:  # noqa: BLE001 - any failure ends the prompt with an execution_error
            _failed(run, result, caught)
        else:
            sink(Event(ev.EXECUTION_SUCCESS, {"prompt_id": prompt_id, "timestamp": ev.timestamp_ms()}))
        finally:
            self.cache.end_prompt()
        sink(Event(ev.EXECUTING, {"node": None, "display_node": None, "prompt_id": prompt_id}))
        _collect(run, result)
        return result

    async def _prepare(self, run: PromptRun, validation: ValidationResult, prompt: dict) -> None:
        """Sign every needed node (validation's topological order), keep the cache entries it uses, find hits."""
        order = validation.order
        if validation.signatures:
            run.sigs.update(validation.signatures)
        elif await run.graph.sign_in_order(order, run.context):
            validation.signatures.update((node_id, run.sigs[node_id]) for node_id in order)
        self.cache.begin_prompt(run.sigs.values())
        live = set(prompt)
        for key in [k for k in self.objects if k[0] not in live]:
            del self.objects[key]
        for node_id in order:
            entry = self.cache.get(run.sigs[node_id])
            if entry is not None:
                run.hits[node_id] = entry


def _interrupted(run: PromptRun, result: ExecutionResult) -> None:
    """Stop pending async nodes and report where the interrupt caught the prompt."""
    run.cancel_async()
    result.status = "interrupted"
    node = run.nodes.get(run.current) if run.current else None
    run.sink(Event(ev.EXECUTION_INTERRUPTED, {
        "prompt_id": run.prompt_id, "node_id": run.current, "node_type": node.class_type if node else None,
        "executed": list(run.executed), "timestamp": ev.timestamp_ms()}))


def _failed(run: PromptRun, result: ExecutionResult, caught: Exception) -> None:
    """Stop pending async nodes and report the failure as execution_error, naming the node and its inputs."""
    run.cancel_async()
    result.status = "error"
    failure = caught if isinstance(caught, NodeFailure) else NodeFailure(run.current or "", caught)
    exc = failure.error
    result.error = run.error_data(failure.node_id, qualified_name(type(exc)), str(exc),
                                  traceback.format_exception(exc), failure.inputs)
    run.sink(Event(ev.EXECUTION_ERROR, result.error))


def _collect(run: PromptRun, result: ExecutionResult) -> None:
    """Copy what the run produced (ui outputs and their ids, executed/cached nodes, timings) into the result."""
    result.outputs = dict(run.ui)
    result.meta = {n: {"node_id": n, "display_node": run.dyn.get_display_node_id(n),
                       "parent_node": run.dyn.get_parent_node_id(n), "real_node_id": run.dyn.get_real_node_id(n)}
                   for n in run.ui}
    result.executed, result.cached = run.executed, list(run.hits)
    result.timings, result.blocked = run.timings, run.blocked
