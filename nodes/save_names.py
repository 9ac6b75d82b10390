"""File names for saved images: `prefix_00001_.png`, counting on from what the folder already holds.

A prefix may carry subfolders and the variables people already use in ComfyUI workflows:
`%date:yyyy-MM-dd%`, `%year%` `%month%` `%day%` `%hour%` `%minute%` `%second%`, `%width%` `%height%`,
`%batch_num%`, and `%NodeTitle.input%` (a literal input of another node, found by title or class).
No nodes live here.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

DATE_TOKENS = re.compile(r"yyyy|yy|MM|M|dd|d|hh|h|mm|m|ss|s")
VARIABLE = re.compile(r"%([^%]+)%")


def _format_date(fmt: str, now: datetime) -> str:
    values = {"yyyy": f"{now.year:04}", "yy": f"{now.year % 100:02}", "MM": f"{now.month:02}", "M": str(now.month),
              "dd": f"{now.day:02}", "d": str(now.day), "hh": f"{now.hour:02}", "h": str(now.hour),
              "mm": f"{now.minute:02}", "m": str(now.minute), "ss": f"{now.second:02}", "s": str(now.second)}
    return DATE_TOKENS.sub(lambda m: values[m[0]], fmt)


def _node_input(prompt: dict, name: str) -> str | None:
    """`Title.input` -> that node's literal input value, by `_meta.title` first, then class_type."""
    node_name, dot, input_name = name.rpartition(".")
    if not dot:
        return None
    for key in ("title", "class_type"):
        for node in prompt.values():
            found = (node.get("_meta") or {}).get("title") if key == "title" else node.get("class_type")
            value = (node.get("inputs") or {}).get(input_name)
            if found == node_name and value is not None and not isinstance(value, (list, dict)):
                return str(value)
    return None


def expand_prefix(prefix: str, width: int, height: int, prompt: dict | None = None,
                  now: datetime | None = None) -> str:
    """Replace the %...% variables in a filename prefix; unknown ones stay as written."""
    now = now or datetime.now()
    simple = {"width": str(width), "height": str(height), "year": f"{now.year:04}", "month": f"{now.month:02}",
              "day": f"{now.day:02}", "hour": f"{now.hour:02}", "minute": f"{now.minute:02}",
              "second": f"{now.second:02}"}

    def replace(match: re.Match) -> str:
        name = match[1]
        if name in simple:
            return simple[name]
        if name.startswith("date:"):
            return _format_date(name[5:], now)
        found = _node_input(prompt or {}, name)
        return found if found is not None else match[0]

    return VARIABLE.sub(replace, prefix)


def split_prefix(prefix: str) -> tuple[str, str]:
    """`a/b/name` -> ('a/b', 'name'); the subfolder is checked later against its root."""
    prefix = prefix.replace("\\", "/").strip()
    subfolder, _, name = prefix.rpartition("/")
    return subfolder, name or "image"


def next_counter(folder: Path, name: str) -> int:
    """One more than the highest `<name>_NNNNN_...` already in folder (1 for a fresh folder).

    `%batch_num%` in `name` matches any number, so a batch's files share one counter sequence.
    """
    pattern = re.compile(re.escape(name).replace(re.escape("%batch_num%"), r"\d+") + r"_(\d+)_.*")
    highest = 0
    if folder.is_dir():
        for entry in os.listdir(folder):
            match = pattern.fullmatch(entry)
            if match:
                highest = max(highest, int(match[1]))
    return highest + 1
