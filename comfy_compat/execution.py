"""ComfyUI's `execution` module, as far as packs reach into it at import: PromptExecutor and validation
helpers. Loom executes prompts with engine.graph.executor; patching these names changes nothing there,
and calling them raises NotImplementedError naming what Loom uses instead."""

from __future__ import annotations

import enum
from typing import Any


class ExecutionResult(enum.Enum):
    SUCCESS = 0
    FAILURE = 1
    PENDING = 2


def _loom_runs_it(name: str) -> None:
    raise NotImplementedError(f"execution.{name}: Loom runs prompts with engine.graph.executor.Executor, not "
                              "ComfyUI's PromptExecutor")


class PromptExecutor:
    """ComfyUI's executor class: present so packs can read or wrap its methods."""

    def __init__(self, server: Any = None, cache_type: Any = False, cache_args: Any = None):
        self.server, self.history_result, self.status_messages, self.success = server, {}, [], True

    def execute(self, prompt: dict, prompt_id: str, extra_data: dict | None = None, execute_outputs: Any = ()) -> None:
        _loom_runs_it("PromptExecutor.execute")

    def handle_execution_error(self, prompt_id: str, prompt: dict, current_outputs: Any, executed: Any,
                               error: dict, ex: BaseException) -> None:
        _loom_runs_it("PromptExecutor.handle_execution_error")

    def add_message(self, event: str, data: dict, broadcast: bool) -> None:
        from comfy_compat.server import PromptServer

        PromptServer.instance.send_sync(event, data, None if broadcast else getattr(self.server, "client_id", None))


class PromptQueue:
    """ComfyUI's queue class; the server's queue is PromptServer.instance.prompt_queue."""

    def __init__(self, server: Any = None):
        self.server = server


def validate_prompt(prompt_id: str, prompt: dict, partial_execution_list: Any = None) -> Any:
    _loom_runs_it("validate_prompt")


def get_input_data(*args: Any, **kwargs: Any) -> Any:
    _loom_runs_it("get_input_data")
