"""Model-affinity placement: which idle worker should run a prompt, judged from the model files it names.

The front reads a cheap set of "model keys" from the prompt (model file names given to loader
inputs) and prefers an idle worker that ran those files recently, so their weights are likely
still loaded there; otherwise the idle worker that has been busy the least.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".sft", ".gguf")
REMEMBERED_KEYS = 16  # model keys kept per worker (its model manager evicts old ones too)


def model_keys(prompt: dict) -> frozenset[str]:
    """File names of models the prompt loads: string inputs ending in a model file extension."""
    keys: set[str] = set()
    for node in prompt.values():
        inputs = node.get("inputs") if isinstance(node, dict) else None
        for value in (inputs or {}).values():
            if isinstance(value, str) and value.lower().endswith(MODEL_EXTENSIONS):
                keys.add(value)
    return frozenset(keys)


@dataclass
class WorkerState:
    """What the front knows about one worker: busy or not, alive or not, what it ran lately."""

    name: str
    busy: bool = False
    alive: bool = True
    busy_s: float = 0.0
    prompts: int = 0
    recent: dict[str, None] = field(default_factory=dict)  # model keys, oldest first

    def remember(self, keys: Iterable[str], seconds: float) -> None:
        """A prompt using `keys` ran here for `seconds`."""
        for key in sorted(keys):
            self.recent.pop(key, None)
            self.recent[key] = None
        while len(self.recent) > REMEMBERED_KEYS:
            del self.recent[next(iter(self.recent))]
        self.busy_s += seconds
        self.prompts += 1

    def forget_models(self) -> None:
        """Its models are gone (restarted or unloaded)."""
        self.recent.clear()


def choose_worker(keys: frozenset[str], workers: Iterable[WorkerState]) -> WorkerState | None:
    """The idle, alive worker sharing the most model keys with the prompt; ties go to the least busy."""
    idle = [w for w in workers if w.alive and not w.busy]
    if not idle:
        return None
    return max(idle, key=lambda w: (len(keys.intersection(w.recent)), -w.busy_s))
