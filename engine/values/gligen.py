"""The GLIGEN socket value: a GLIGEN file under the model manager, placed only while a sampler runs.

GLIGENLoader reads nothing but the file's header; the boxes of GLIGENTextBoxApply carry this value in the
conditioning's ("position", GLIGEN, boxes) entry. `gligens_bound` places every GLIGEN a sampler run's
conditioning uses on the compute device (pinned beside the UNet, counted in its budget, offloaded like any
other model afterwards) and hands the sampler the entries with the placed module in the value's stead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.memory import ModelHandle, ModelManager, file_key
from engine.models.checkpoint import open_checkpoint
from engine.models.gligen import NULL_FEATURE_KEY, load_gligen


@dataclass(frozen=True)
class GligenModel:
    """GLIGEN: the managed GLIGEN weights."""

    handle: ModelHandle


def gligen_model(manager: ModelManager, path: Path, what: str) -> GligenModel:
    """The GLIGEN value of the file at `path`; `what` names it in errors (node and input)."""
    if NULL_FEATURE_KEY not in open_checkpoint(path).shapes():
        raise ValueError(f"{what} is not a GLIGEN model: it has no {NULL_FEATURE_KEY}")

    def load(weights):
        try:
            return load_gligen(weights, what)
        except (KeyError, RuntimeError) as error:
            raise ValueError(f"{what} does not have the GLIGEN layout: {error}") from error

    handle = manager.handle(file_key(path, "gligen"), name=f"{path.name} (gligen)", kind="gligen", load=load,
                            state_dict=lambda: open_checkpoint(path))
    return GligenModel(handle)


@contextmanager
def gligens_bound(manager: ModelManager, conds: dict[str, list]) -> Iterator[dict[str, list]]:
    """`conds` (name -> [[cond, options], ...]) with every GLIGEN value in an entry's "gligen" replaced by
    its module, placed and pinned until the block ends; `conds` itself when none has one."""
    used = {value.handle.key: value for entries in conds.values() for _, options in entries
            if (value := _value(options)) is not None}
    if not used:
        yield conds
        return
    with ExitStack() as stack:
        placed = {key: stack.enter_context(manager.use(value.handle)) for key, value in used.items()}

        def bound(options: dict) -> dict:
            value = _value(options)
            if value is None:
                return options
            kind, _, *boxes = options["gligen"]
            return {**options, "gligen": (kind, placed[value.handle.key], *boxes)}

        yield {name: [[cond, bound(options)] for cond, options in entries] for name, entries in conds.items()}


def _value(options: dict) -> GligenModel | None:
    """The GLIGEN value of a conditioning entry's ("position" | "empty", GLIGEN, boxes), if it has one."""
    gligen = options.get("gligen")
    return gligen[1] if gligen is not None and isinstance(gligen[1], GligenModel) else None
