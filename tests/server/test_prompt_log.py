"""The server logs one line per finished prompt: its id, the outcome, nodes run and cached, the time."""

from __future__ import annotations

import logging
import re

from tests.server.helpers import run_and_wait, show_prompt


async def test_each_prompt_gets_one_log_line_with_id_outcome_counts_and_time(client, caplog):
    caplog.set_level(logging.INFO, logger="web.worker")
    first = await run_and_wait(client, show_prompt(1, 2))
    again = await run_and_wait(client, show_prompt(1, 2))
    failed = await run_and_wait(client, {"1": {"class_type": "LoomTestBoom", "inputs": {"value": 1}},
                                         "2": {"class_type": "LoomTestShow", "inputs": {"value": ["1", 0]}}})
    lines = [r.getMessage() for r in caplog.records if r.name == "web.worker" and r.getMessage().startswith("prompt ")]
    assert len(lines) == 3
    pattern = r"prompt {} {}: (\d+) nodes run, (\d+) cached, \d+\.\d\d s"
    assert re.fullmatch(pattern.format(first["prompt_id"], "success"), lines[0]).groups() == ("4", "0")
    assert re.fullmatch(pattern.format(again["prompt_id"], "success"), lines[1]).groups() == ("0", "4")
    assert re.fullmatch(pattern.format(failed["prompt_id"], "error"), lines[2])
