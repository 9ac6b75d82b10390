"""Per-node mechanics: cache signatures, mapping a node over list inputs, reading and merging its results."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from typing import Any

from engine.graph.blocker import ExecutionBlocker
from engine.graph.spec import NodeSpec
from engine.graph.types import is_link

_never_equal = itertools.count()
_PLAIN = (str, int, bool, type(None))


def value_token(value: Any) -> Any:
    """A stable stand-in for a literal or IS_CHANGED value; NaN and opaque objects never match anything."""
    if type(value) in _PLAIN:
        return value
    if type(value) is float:
        return value if not math.isnan(value) else ("never", next(_never_equal))
    try:
        return "json:" + json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return ("never", next(_never_equal))


def key_part(class_type: str, fingerprint: Any, node_id: str | None, consts: dict[str, Any],
             links: dict[str, tuple[str, int]]) -> tuple[bytes, tuple[str, ...]]:
    """What a node's cache key takes from the node itself (class, IS_CHANGED token, the node id where it
    matters, literals, link names and slots; not the ids of its sources), and its sources in that order."""
    parts: list[Any] = [class_type, value_token(fingerprint), node_id]
    for name in sorted(consts):
        parts.append((name, value_token(consts[name])))
    names = sorted(links)
    parts.extend((name, links[name][1]) for name in names)
    return repr(parts).encode(), tuple(links[name][0] for name in names)


def signature(own: bytes, upstream: tuple[bytes | None, ...]) -> bytes:
    """Cache key of a node: its own part and its sources' keys (16 bytes each); a missing source never matches."""
    if None in upstream:
        return hashlib.blake2b(own + b"never %d" % next(_never_equal), digest_size=16).digest()
    return hashlib.blake2b(own + b"".join(upstream), digest_size=16).digest()


def call_batches(inputs: dict[str, list], input_is_list: bool) -> list[dict[str, Any]]:
    """Keyword sets for each call: whole lists at once, or one call per index (shorter lists repeat their last)."""
    if input_is_list:
        return [inputs]
    if not inputs:
        return [{}]
    sizes = [len(v) for v in inputs.values()]
    if min(sizes) == 0:
        return []
    count = max(sizes)
    if count == 1:
        return [{k: v[0] for k, v in inputs.items()}]
    return [{k: v[i] if i < len(v) else v[-1] for k, v in inputs.items()} for i in range(count)]


def find_blocker(kwargs: dict[str, Any], input_is_list: bool = False) -> ExecutionBlocker | None:
    """The first blocker among a call's inputs (any list element, for INPUT_IS_LIST nodes)."""
    for value in kwargs.values():
        if isinstance(value, ExecutionBlocker):
            return value
        if input_is_list and isinstance(value, list):
            found = next((v for v in value if isinstance(v, ExecutionBlocker)), None)
            if found is not None:
                return found
    return None


def split_result(raw: Any) -> tuple[Any, dict | None, dict | None]:
    """(outputs, ui, expand) from a native NodeOutput, a V1 dict, a tuple, a blocker or None.

    A dict or NodeOutput without a result gives None outputs; a bare None counts as zero outputs.
    """
    if type(raw) is tuple:  # the common case first
        return raw, None, None
    if raw is None:
        return (), None, None
    if isinstance(raw, ExecutionBlocker):
        return raw, None, None
    if isinstance(raw, dict):
        return raw.get("result"), raw.get("ui"), raw.get("expand")
    if hasattr(raw, "expand") and hasattr(raw, "ui") and hasattr(raw, "result"):
        return raw.result, raw.ui, raw.expand
    return raw, None, None


def result_items(spec: NodeSpec, outputs: Any, resolve_link: Any = None) -> list[list[Any]] | None:
    """One call's outputs as a list of items per slot (list outputs and links contribute many); None when
    the call gave no result at all (a dict or NodeOutput without one), which ComfyUI leaves out of the merge."""
    count = len(spec.outputs)
    if outputs is None:
        return None
    if isinstance(outputs, ExecutionBlocker):
        return [[outputs] for _ in range(count)]
    if not isinstance(outputs, (tuple, list)):
        raise TypeError(f"{spec.name} must return a tuple of {count} outputs, got {type(outputs).__name__}")
    items = []  # fewer values than declared: only those slots exist (as in ComfyUI), readers of the rest get None
    for slot, value in zip(spec.outputs, outputs):
        if resolve_link is not None and is_link(value):
            items.append(list(resolve_link(value)))
        elif slot.is_list:
            items.append(list(value))
        else:
            items.append([value])
    return items


def merge_calls(spec: NodeSpec, per_call: list[list[list[Any]] | None]) -> list[list[Any]]:
    """Concatenate every call's items per output slot; the first result decides how many slots exist.

    With no call at all every slot is empty; with calls but no result, no slot exists (readers get None).
    """
    if not per_call:
        return [[] for _ in spec.outputs]
    per_call = [items for items in per_call if items is not None]
    if len(per_call) <= 1:
        return per_call[0] if per_call else []
    merged: list[list[Any]] = [[] for _ in per_call[0]]
    for index, items in enumerate(per_call):
        if len(items) < len(merged):
            raise TypeError(f"{spec.name} returned {len(items)} outputs on call {index + 1} "
                            f"but {len(merged)} on its first call")
        for slot, values in zip(merged, items):
            slot.extend(values)
    return merged


def slot_items(outputs: list[list[Any]], index: int) -> list[Any]:
    """The items of output slot `index`; [None] for a slot the node did not return (ComfyUI passes None)."""
    return outputs[index] if index < len(outputs) else [None]


def merge_ui(uis: list[dict | None]) -> dict | None:
    """UI dicts of several calls merged by concatenating per key (lists and tuples contribute their items)."""
    present = [u for u in uis if u]
    if not present:
        return None
    if len(present) == 1:
        return present[0]
    merged: dict[str, Any] = {}
    for ui in present:
        for key, value in ui.items():
            merged.setdefault(key, [])
            merged[key] += list(value) if isinstance(value, (list, tuple)) else [value]
    return merged
